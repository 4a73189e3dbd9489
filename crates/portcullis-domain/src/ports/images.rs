//! Turning an uploaded picture into an avatar: the bytes a user sent are untrusted input to an
//! image decoder, so the adapter sniffs the format from the bytes, checks the declared size
//! before it allocates anything, decodes off the async executor with bounded concurrency, and
//! encodes a new file from the pixels alone (nothing of the original survives).

use async_trait::async_trait;

/// The formats an upload may be in (sniffed from its bytes, never from a declared type or
/// name). GIF counts by its first frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFormat {
    /// PNG.
    Png,
    /// JPEG.
    Jpeg,
    /// WebP (lossy or lossless).
    Webp,
    /// GIF (first frame).
    Gif,
}

/// The format avatars are stored and served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AvatarFormat {
    /// JPEG (small; transparency is flattened onto white).
    Jpeg,
    /// PNG (lossless, keeps transparency).
    Png,
    /// WebP, lossless (keeps transparency).
    Webp,
}

impl AvatarFormat {
    /// Its media type.
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
        }
    }
}

/// An avatar made from an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvatarImage {
    /// The encoded file.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: AvatarFormat,
    /// Width and height in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// What the upload was.
    pub source: UploadFormat,
}

/// Why an upload was not made into an avatar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageRejection {
    /// 422 `invalid_image`: not a PNG, JPEG, WebP or GIF (SVG included), or bytes that do not
    /// decode as the format they start like (truncated, corrupt, a polyglot).
    #[error("not a supported image: {0}")]
    Invalid(String),
    /// 422 `invalid_image`: the image declares more pixels, or needs more memory to decode,
    /// than allowed (a decompression bomb is refused here, before anything is allocated).
    #[error("image too large: {0}")]
    TooLarge(String),
    /// 503 `server_busy`: every image worker is busy and the queue is full.
    #[error("no capacity to process the image now")]
    Busy,
}

/// Makes avatars from uploads.
#[async_trait]
pub trait ImageProcessor: Send + Sync {
    /// Decodes `upload` and re-encodes it as an avatar (square, at the configured size).
    async fn avatar(&self, upload: Vec<u8>) -> Result<AvatarImage, ImageRejection>;
}
