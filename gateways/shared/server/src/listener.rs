//! Binding a process's listen address, the first thing its `App::build` does, so that a taken
//! port fails the start with the address in the message.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::StartupError;

/// Binds `address` and returns the listener with the address it really listens on (the real port
/// when `address` asked for port 0).
pub async fn bind(address: SocketAddr) -> Result<(TcpListener, SocketAddr), StartupError> {
    let bind_error = |source| StartupError::Bind {
        address: address.to_string(),
        source,
    };
    let listener = TcpListener::bind(address).await.map_err(bind_error)?;
    let local = listener.local_addr().map_err(bind_error)?;
    Ok((listener, local))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bind_reports_the_real_port_when_asked_for_port_zero() {
        let (_listener, address) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        assert_ne!(address.port(), 0);
    }

    #[tokio::test]
    async fn bind_fails_with_the_address_when_it_is_taken() {
        let (_listener, taken) = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let error = bind(taken).await.unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with(&format!("cannot listen on {taken}: ")),
            "{error}"
        );
    }
}
