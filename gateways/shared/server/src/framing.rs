//! One complete gRPC message per request, checked as the body streams in: every service of the
//! shop is unary, and tonic answers a body that is not exactly one well-formed frame with
//! `INTERNAL` ("Unexpected EOF decoding stream.", "Missing request message.", a compressed-flag
//! protocol error) although the fault is the client's. [`OneMessage`] wraps a generated server
//! so that such a body ends with `INVALID_ARGUMENT` instead, before tonic sees the bad bytes.
//!
//! Only the framing is checked here; the size limit stays the generated server's
//! (`max_decoding_message_size`, `OUT_OF_RANGE`), and the message's bytes are decoded by its
//! codec (`proto::codec`, also `INVALID_ARGUMENT`). A service generated with tonic's own codec
//! (health, from `tonic-health`) answers undecodable bytes with `INTERNAL`:
//! [`OneMessage::decoding`] also decodes the message here, as its request type, and refuses it
//! with `INVALID_ARGUMENT` before the service sees it.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use tonic::{
    Status,
    body::Body,
    codegen::{Bytes, Service, http::Request},
    server::NamedService,
};

/// Bytes of a gRPC frame header: the compressed flag and the big-endian length.
const HEADER_LEN: usize = 5;
/// Longest message [`OneMessage::decoding`] decodes (it holds the message meanwhile): the
/// requests it guards are a name or two.
const DECODED_LIMIT: usize = 64 * 1024;

/// Whether a whole, uncompressed message's bytes decode as the request type.
type Check = fn(&[u8]) -> Result<(), Status>;

/// A gRPC service whose request body must be exactly one complete frame (every method unary, or
/// server-streaming from one request); see the module doc.
#[derive(Debug, Clone)]
pub struct OneMessage<S> {
    service: S,
    check: Option<Check>,
}

impl<S> OneMessage<S> {
    /// `service`, its request bodies checked for one complete frame.
    pub fn new(service: S) -> Self {
        Self {
            service,
            check: None,
        }
    }

    /// `service`, its request bodies checked for one complete frame that decodes as `M`
    /// (at most 64 KiB): for a service whose own codec calls an undecodable message `INTERNAL`.
    pub fn decoding<M: prost::Message + Default>(service: S) -> Self {
        Self {
            service,
            check: Some(|bytes| {
                M::decode(bytes).map(drop).map_err(|error| {
                    Status::invalid_argument(format!("the message does not decode: {error}"))
                })
            }),
        }
    }
}

impl<S: NamedService> NamedService for OneMessage<S> {
    const NAME: &'static str = S::NAME;
}

impl<S> Service<Request<Body>> for OneMessage<S>
where
    S: Service<Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.service.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        // A compressed frame is allowed only when the request names its encoding (tonic then
        // answers for the encoding itself).
        let encoded = request.headers().contains_key("grpc-encoding");
        let check = self.check;
        self.service
            .call(request.map(|body| Body::new(Framing::new(body, encoded, check))))
    }
}

/// The request body, passed through while its frames are counted.
struct Framing {
    inner: Body,
    encoded: bool,
    /// Header bytes of the frame being read (`header_len` of them so far).
    header: [u8; HEADER_LEN],
    header_len: usize,
    /// Message bytes still to come in the current frame.
    remaining: u64,
    /// Complete frames so far.
    frames: u32,
    /// Decodes the message when given; its bytes are gathered in `message` meanwhile (not for
    /// a compressed frame: the service decompresses and decodes that itself).
    check: Option<Check>,
    message: Option<Vec<u8>>,
}

impl Framing {
    fn new(inner: Body, encoded: bool, check: Option<Check>) -> Self {
        Self {
            inner,
            encoded,
            header: [0; HEADER_LEN],
            header_len: 0,
            remaining: 0,
            frames: 0,
            check,
            message: None,
        }
    }

    /// The current frame is complete: its message is checked, if it was gathered.
    fn completed(&mut self) -> Result<(), Status> {
        self.frames += 1;
        match (self.check, self.message.take()) {
            (Some(check), Some(message)) => check(&message),
            _ => Ok(()),
        }
    }

    /// Follows the frames through `chunk`; an error says why the body is not one frame.
    fn follow(&mut self, mut chunk: &[u8]) -> Result<(), Status> {
        while !chunk.is_empty() {
            if self.remaining > 0 {
                let taken = usize::try_from(self.remaining)
                    .unwrap_or(usize::MAX)
                    .min(chunk.len());
                if let Some(message) = &mut self.message {
                    message.extend_from_slice(&chunk[..taken]);
                }
                chunk = &chunk[taken..];
                self.remaining -= taken as u64;
                if self.remaining == 0 {
                    self.completed()?;
                }
                continue;
            }
            if self.frames > 0 {
                return Err(Status::invalid_argument(
                    "a unary request carries exactly one message; this one has more",
                ));
            }
            let taken = (HEADER_LEN - self.header_len).min(chunk.len());
            self.header[self.header_len..self.header_len + taken].copy_from_slice(&chunk[..taken]);
            self.header_len += taken;
            chunk = &chunk[taken..];
            if self.header_len < HEADER_LEN {
                continue;
            }
            self.header_len = 0;
            match self.header[0] {
                0 => {}
                1 if self.encoded => {}
                1 => {
                    return Err(Status::invalid_argument(
                        "the message is flagged compressed but the request names no grpc-encoding",
                    ));
                }
                _ => {
                    return Err(Status::invalid_argument(
                        "the message's compressed flag is neither 0 nor 1",
                    ));
                }
            }
            let len = u32::from_be_bytes([
                self.header[1],
                self.header[2],
                self.header[3],
                self.header[4],
            ]);
            self.remaining = u64::from(len);
            if self.check.is_some() && self.header[0] == 0 {
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > DECODED_LIMIT {
                    return Err(Status::out_of_range(format!(
                        "the message is {len} bytes; this service takes at most {DECODED_LIMIT}"
                    )));
                }
                self.message = Some(Vec::with_capacity(len));
            }
            if len == 0 {
                self.completed()?;
            }
        }
        Ok(())
    }

    /// At the end of the body: an error unless exactly one frame arrived whole.
    fn finish(&self) -> Result<(), Status> {
        if self.header_len > 0 || self.remaining > 0 {
            return Err(Status::invalid_argument(
                "the request ends inside a message (truncated)",
            ));
        }
        if self.frames == 0 {
            return Err(Status::invalid_argument("the request carries no message"));
        }
        Ok(())
    }
}

impl tonic::codegen::Body for Framing {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Bytes>, Status>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref()
                    && let Err(status) = this.follow(data)
                {
                    return Poll::Ready(Some(Err(status)));
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(None) => Poll::Ready(this.finish().err().map(Err)),
            other => other,
        }
    }
}
