# AWS: VPC, EKS, RDS PostgreSQL, ElastiCache Redis, an ECR repository for the image, Istio, and
# the prod overlay of infra/k8s (RocketMQ name server and broker run on EKS as StatefulSets).

locals {
  name = var.name
  tags = merge(var.tags, { project = "commerce", managed-by = "terraform" })
  azs  = slice(data.aws_availability_zones.available.names, 0, 3)
}

# The zones are named, not discovered: a zone AWS adds later does not move subnets around.
data "aws_availability_zones" "available" {
  state = "available"
  filter {
    name   = "zone-name"
    values = [for suffix in var.zone_suffixes : "${var.region}${suffix}"]
  }
}

data "aws_caller_identity" "current" {}

# One customer-managed key for the databases, the cache, the image repository and EKS secrets.
resource "aws_kms_key" "commerce" {
  description         = "${local.name}: RDS, ElastiCache, ECR and EKS secrets"
  enable_key_rotation = true
  tags                = local.tags
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "AccountAdministers"
      Effect    = "Allow"
      Principal = { AWS = "arn:aws:iam::${data.aws_caller_identity.current.account_id}:root" }
      Action    = "kms:*"
      Resource  = "*"
    }]
  })
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.16"

  name                                 = local.name
  cidr                                 = var.vpc_cidr
  azs                                  = local.azs
  private_subnets                      = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 4, i)]
  public_subnets                       = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, 48 + i)]
  database_subnets                     = [for i, _ in local.azs : cidrsubnet(var.vpc_cidr, 8, 64 + i)]
  enable_nat_gateway                   = true
  single_nat_gateway                   = var.single_nat_gateway
  enable_flow_log                      = true
  create_flow_log_cloudwatch_iam_role  = true
  create_flow_log_cloudwatch_log_group = true
  public_subnet_tags                   = { "kubernetes.io/role/elb" = 1 }
  private_subnet_tags                  = { "kubernetes.io/role/internal-elb" = 1 }
  tags                                 = local.tags
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.31"

  cluster_name                             = local.name
  cluster_version                          = var.kubernetes_version
  vpc_id                                   = module.vpc.vpc_id
  subnet_ids                               = module.vpc.private_subnets
  cluster_endpoint_public_access           = var.cluster_endpoint_public_access
  cluster_endpoint_public_access_cidrs     = var.cluster_endpoint_public_access_cidrs
  enable_cluster_creator_admin_permissions = true
  cluster_encryption_config                = { resources = ["secrets"], provider_key_arn = aws_kms_key.commerce.arn }
  create_kms_key                           = false
  cluster_enabled_log_types                = ["api", "audit", "authenticator"]

  eks_managed_node_groups = {
    default = {
      instance_types = var.node_instance_types
      min_size       = var.node_min_size
      max_size       = var.node_max_size
      desired_size   = var.node_desired_size
    }
  }
  tags = local.tags
}

resource "aws_ecr_repository" "commerce" {
  name                 = local.name
  image_tag_mutability = "IMMUTABLE"
  tags                 = local.tags

  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = aws_kms_key.commerce.arn
  }
}

module "postgres" {
  source                    = "../../modules/aws-postgres"
  name                      = local.name
  vpc_id                    = module.vpc.vpc_id
  subnet_ids                = module.vpc.database_subnets
  client_security_group_ids = [module.eks.node_security_group_id]
  kms_key_arn               = aws_kms_key.commerce.arn
  instance_class            = var.db_instance_class
  tags                      = local.tags
}

module "redis" {
  source                    = "../../modules/aws-redis"
  name                      = local.name
  vpc_id                    = module.vpc.vpc_id
  subnet_ids                = module.vpc.private_subnets
  client_security_group_ids = [module.eks.node_security_group_id]
  kms_key_arn               = aws_kms_key.commerce.arn
  node_type                 = var.redis_node_type
  tags                      = local.tags
}

resource "random_password" "jwt" {
  length  = 64
  special = false
}

# The payment webhook's signing secrets (docs/payments.md): the provider signs its callbacks with
# the first, the HTTP gateway accepts any. Generated for the provider simulator (role
# payment-provider) unless var.payment_webhook_secrets gives a real provider's.
resource "random_password" "webhook" {
  length  = 64
  special = false
}

module "istio" {
  source        = "../../modules/istio"
  istio_version = var.istio_version
  depends_on    = [module.eks]
}

module "commerce" {
  source       = "../../modules/commerce-app"
  overlay_path = "${path.module}/../../../k8s/overlays/prod"
  depends_on   = [module.istio]
}

# The Secret the prod overlay's pods read, mounted as files named after its keys (APP_…_FILE
# variables point at them; infra/README.md). Created after the overlay's namespace; pods that start
# before it wait until it exists (the secret volume cannot mount). No database access: each role
# has its own Secret (module database_roles below).
resource "kubernetes_secret_v1" "commerce" {
  metadata {
    name      = "commerce-secrets"
    namespace = "commerce"
  }
  data = {
    APP_REDIS__URL       = module.redis.url
    APP_AUTH__JWT_SECRET = random_password.jwt.result
    # coalesce skips the empty default: the generated secret unless a real provider's is given.
    APP_PAYMENTS__WEBHOOK_SECRETS = coalesce(var.payment_webhook_secrets, random_password.webhook.result)
  }
  depends_on = [module.commerce]
}

# One PostgreSQL login per database role: its generated password and the Secret commerce-db-<role>
# (url with sslmode=require, password), and the Secret commerce-db-owner (the master user's URL) for
# the migrations Job, which creates or updates the logins with these passwords (infra/README.md,
# "Database roles and secrets"). Like commerce-secrets, created after the overlay's namespace.
module "database_roles" {
  source     = "../../modules/database-roles"
  namespace  = "commerce"
  endpoint   = module.postgres.endpoint
  database   = module.postgres.database
  owner_url  = module.postgres.url
  depends_on = [module.commerce]
}
