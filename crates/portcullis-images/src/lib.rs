//! Avatars from uploads, with the `image` crate.
//!
//! An upload is untrusted input to a decoder. [`AvatarProcessor`]:
//!
//! 1. sniffs the format from the first bytes (a declared type or file name is never asked) and
//!    accepts PNG, JPEG, WebP and GIF only (SVG and anything else: [`ImageRejection::Invalid`]);
//! 2. reads the declared width and height from the header and refuses more than
//!    [`ImageSettings::max_pixels`] before anything is allocated, then decodes with the decoder
//!    limits set (`max_image_width`/`height`, `max_alloc`), so a decompression bomb (a tiny file
//!    declaring 40 000 × 40 000) costs a header parse;
//! 3. decodes, crops to a centred square (or fits inside it) and resizes to
//!    [`ImageSettings::size`], on Tokio's blocking pool, at most [`ImageSettings::workers`] at a
//!    time with at most [`ImageSettings::queue`] more waiting (then [`ImageRejection::Busy`]);
//! 4. encodes a new file from the pixels alone: no EXIF, GPS, ICC profile, text chunk or comment
//!    of the upload survives, and nothing after the image's end (a polyglot's payload) either.
//!
//! Peak memory is about `workers × max_alloc`.

#[cfg(feature = "fixtures")]
pub mod fixtures;

use std::io::Cursor;
use std::sync::Arc;

use async_trait::async_trait;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage, RgbaImage};
use portcullis_domain::{AvatarFormat, AvatarImage, ImageProcessor, ImageRejection, UploadFormat};
use tokio::sync::Semaphore;

/// How uploads become avatars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Crop the largest centred square, then resize to `size` × `size` (the default).
    Crop,
    /// Keep the whole picture, resized to fit inside `size` × `size`.
    Fit,
}

/// Settings.
#[derive(Debug, Clone, Copy)]
pub struct ImageSettings {
    /// Side of the avatar, in pixels (default 256).
    pub size: u32,
    /// Crop or fit (default crop).
    pub shape: Shape,
    /// Output format (default JPEG).
    pub format: AvatarFormat,
    /// JPEG quality, 1–100 (default 85).
    pub jpeg_quality: u8,
    /// Most pixels an upload may declare (default 16 777 216: 4096 × 4096).
    pub max_pixels: u64,
    /// Longest side an upload may declare (default 8192).
    pub max_side: u32,
    /// Most bytes the decoder may allocate at once (default 128 MiB).
    pub max_alloc: u64,
    /// Most bytes an upload may have (default 5 MiB; the HTTP layer refuses larger bodies first).
    pub max_upload_bytes: usize,
    /// Images processed at once (default 1).
    pub workers: usize,
    /// Uploads waiting beyond those (default 4).
    pub queue: usize,
}

impl Default for ImageSettings {
    fn default() -> Self {
        Self {
            size: 256,
            shape: Shape::Crop,
            format: AvatarFormat::Jpeg,
            jpeg_quality: 85,
            max_pixels: 4096 * 4096,
            max_side: 8192,
            max_alloc: 128 * 1024 * 1024,
            max_upload_bytes: 5 * 1024 * 1024,
            workers: 1,
            queue: 4,
        }
    }
}

/// The [`ImageProcessor`] on the `image` crate.
#[derive(Debug, Clone)]
pub struct AvatarProcessor {
    settings: Arc<ImageSettings>,
    /// Places for work in progress and waiting.
    admitted: Arc<Semaphore>,
    /// Places for work in progress.
    running: Arc<Semaphore>,
}

impl AvatarProcessor {
    /// A processor with `settings` (a size of 0 counts as 1, no workers as one).
    pub fn new(settings: ImageSettings) -> Self {
        let workers = settings.workers.max(1);
        Self {
            admitted: Arc::new(Semaphore::new(workers + settings.queue)),
            running: Arc::new(Semaphore::new(workers)),
            settings: Arc::new(ImageSettings {
                size: settings.size.max(1),
                workers,
                ..settings
            }),
        }
    }
}

#[async_trait]
impl ImageProcessor for AvatarProcessor {
    async fn avatar(&self, upload: Vec<u8>) -> Result<AvatarImage, ImageRejection> {
        let Ok(admitted) = Arc::clone(&self.admitted).try_acquire_owned() else {
            tracing::warn!("avatar upload refused: every image worker busy and the queue full");
            return Err(ImageRejection::Busy);
        };
        let running = Arc::clone(&self.running)
            .acquire_owned()
            .await
            .map_err(|_| ImageRejection::Busy)?;
        let settings = Arc::clone(&self.settings);
        // The places go with the work: a caller that gives up (a dropped connection) does not
        // free them while the decoder still runs.
        tokio::task::spawn_blocking(move || {
            let _places = (admitted, running);
            process(&upload, &settings)
        })
        .await
        .map_err(|e| {
            // A decoder panic is a bug in it, not the user's fault; the upload is refused.
            tracing::error!(error = %e, "image decoding task failed");
            ImageRejection::Invalid("the image could not be decoded".into())
        })?
    }
}

/// The whole job, synchronously: sniff, check, decode, shape, encode.
pub fn process(upload: &[u8], settings: &ImageSettings) -> Result<AvatarImage, ImageRejection> {
    if upload.len() > settings.max_upload_bytes {
        return Err(ImageRejection::TooLarge(format!(
            "the upload has {} bytes; at most {} are accepted",
            upload.len(),
            settings.max_upload_bytes
        )));
    }
    let source = sniff(upload)?;
    if source == UploadFormat::Jpeg && !jpeg_is_whole(upload) {
        // The JPEG decoder fills in missing data; a file cut short is refused here instead.
        return Err(ImageRejection::Invalid(
            "the JPEG is truncated (no end-of-image marker after its image data)".into(),
        ));
    }
    let format = match source {
        UploadFormat::Png => ImageFormat::Png,
        UploadFormat::Jpeg => ImageFormat::Jpeg,
        UploadFormat::Webp => ImageFormat::WebP,
        UploadFormat::Gif => ImageFormat::Gif,
    };
    let limits = limits(settings);
    let invalid = |e: image::ImageError| classify(&e);

    // The header alone first: its declared size decides before any pixel buffer exists.
    let mut reader = ImageReader::with_format(Cursor::new(upload), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(invalid)?;
    let (width, height) = decoder.dimensions();
    check_size(width, height, settings)?;
    // Phones store portrait photos as landscape pixels plus an EXIF orientation; the EXIF is
    // not kept, so the rotation is applied to the pixels (an unreadable tag means none).
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(invalid)?;
    decoded.apply_orientation(orientation);
    let shaped = shape(&decoded, settings);
    let (bytes, format) = encode(&shaped, settings)?;
    Ok(AvatarImage {
        bytes,
        format,
        width: shaped.width(),
        height: shaped.height(),
        source,
    })
}

/// The upload's format, from its first bytes.
fn sniff(upload: &[u8]) -> Result<UploadFormat, ImageRejection> {
    match image::guess_format(upload) {
        Ok(ImageFormat::Png) => Ok(UploadFormat::Png),
        Ok(ImageFormat::Jpeg) => Ok(UploadFormat::Jpeg),
        Ok(ImageFormat::WebP) => Ok(UploadFormat::Webp),
        Ok(ImageFormat::Gif) => Ok(UploadFormat::Gif),
        Ok(other) => Err(ImageRejection::Invalid(format!(
            "{other:?} images are not accepted; send PNG, JPEG, WebP or GIF"
        ))),
        Err(_) => Err(ImageRejection::Invalid("not a PNG, JPEG, WebP or GIF image".into())),
    }
}

/// Whether a JPEG's image data is followed by its end-of-image marker: the segments before the
/// first scan are walked by their lengths (an EXIF thumbnail inside them does not count), then
/// an end-of-image marker must follow. Bytes after it (phone makers' trailers, a motion
/// photo's video) are allowed: the avatar is made from the pixels alone.
fn jpeg_is_whole(upload: &[u8]) -> bool {
    let mut at = 2; // after SOI
    loop {
        let (Some(&0xFF), Some(&marker)) = (upload.get(at), upload.get(at + 1)) else {
            return false;
        };
        match marker {
            // Fill bytes before a marker.
            0xFF => at += 1,
            // Start of scan: the image data follows.
            0xDA => break,
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => at += 2,
            // End of image before any scan.
            0xD9 => return false,
            _ => {
                let Some(len) = upload.get(at + 2..at + 4) else {
                    return false;
                };
                at += 2 + usize::from(u16::from_be_bytes([len[0], len[1]]));
            }
        }
    }
    upload[at..].windows(2).any(|w| w == [0xFF, 0xD9])
}

fn limits(settings: &ImageSettings) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(settings.max_side);
    limits.max_image_height = Some(settings.max_side);
    limits.max_alloc = Some(settings.max_alloc);
    limits
}

fn check_size(width: u32, height: u32, settings: &ImageSettings) -> Result<(), ImageRejection> {
    if width == 0 || height == 0 {
        return Err(ImageRejection::Invalid("the image has no pixels".into()));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > settings.max_side || height > settings.max_side || pixels > settings.max_pixels {
        return Err(ImageRejection::TooLarge(format!(
            "the image is {width} × {height} pixels; at most {} pixels and {} on a side are accepted",
            settings.max_pixels, settings.max_side
        )));
    }
    Ok(())
}

/// Limits exceeded are [`ImageRejection::TooLarge`]; anything else the decoder refuses is
/// [`ImageRejection::Invalid`].
fn classify(e: &image::ImageError) -> ImageRejection {
    match e {
        image::ImageError::Limits(l) => ImageRejection::TooLarge(l.to_string()),
        other => ImageRejection::Invalid(format!("the image does not decode: {other}")),
    }
}

fn shape(image: &DynamicImage, settings: &ImageSettings) -> DynamicImage {
    let size = settings.size;
    match settings.shape {
        Shape::Crop => image.resize_to_fill(size, size, FilterType::Lanczos3),
        Shape::Fit => image.resize(size, size, FilterType::Lanczos3),
    }
}

fn encode(image: &DynamicImage, settings: &ImageSettings) -> Result<(Vec<u8>, AvatarFormat), ImageRejection> {
    let mut out = Vec::new();
    let failed = |e: image::ImageError| {
        tracing::error!(error = %e, "avatar encoding failed");
        ImageRejection::Invalid("the image could not be re-encoded".into())
    };
    match settings.format {
        AvatarFormat::Jpeg => {
            let flat = flatten_on_white(&image.to_rgba8());
            let encoder =
                image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, settings.jpeg_quality.clamp(1, 100));
            flat.write_with_encoder(encoder).map_err(failed)?;
        }
        AvatarFormat::Png => {
            let rgba = image.to_rgba8();
            rgba.write_with_encoder(image::codecs::png::PngEncoder::new(&mut out))
                .map_err(failed)?;
        }
        AvatarFormat::Webp => {
            let rgba = image.to_rgba8();
            rgba.write_with_encoder(image::codecs::webp::WebPEncoder::new_lossless(&mut out))
                .map_err(failed)?;
        }
    }
    Ok((out, settings.format))
}

/// RGBA composited over white, for formats without transparency.
fn flatten_on_white(rgba: &RgbaImage) -> RgbImage {
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over = |c: u8| {
            let (c, a) = (u16::from(c), u16::from(a));
            // c·a + 255·(255 − a), over 255, rounded: at most 255.
            u8::try_from((c * a + 255 * (255 - a) + 127) / 255).unwrap_or(u8::MAX)
        };
        image::Rgb([over(r), over(g), over(b)])
    })
}
