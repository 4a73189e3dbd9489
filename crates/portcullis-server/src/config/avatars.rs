//! `[avatars]`: how uploads become avatars and where they are kept.

use std::path::PathBuf;

use portcullis_images::{ImageSettings, Shape};
use serde::Deserialize;

use super::common::{ConfigError, Problems};

/// Where avatar bytes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvatarStoreKind {
    /// In PostgreSQL, beside the account (every node sees them; one transaction).
    #[default]
    Database,
    /// Files under `avatars.directory` (a local disk, or a volume every node mounts).
    Directory,
}

/// Crop or fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvatarShape {
    /// The largest centred square, resized.
    #[default]
    Crop,
    /// The whole picture, resized to fit inside the square.
    Fit,
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AvatarFormatConfig {
    /// JPEG (smallest; transparency flattened onto white).
    #[default]
    Jpeg,
    /// PNG (lossless, keeps transparency).
    Png,
    /// Lossless WebP (keeps transparency).
    Webp,
}

/// `[avatars]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvatarsConfig {
    /// Largest upload in bytes (413 beyond).
    pub max_upload_bytes: usize,
    /// Side of the stored avatar in pixels.
    pub size: u32,
    /// `crop` or `fit`.
    pub shape: AvatarShape,
    /// `jpeg`, `png` or `webp`.
    pub format: AvatarFormatConfig,
    /// JPEG quality, 1 to 100.
    pub jpeg_quality: u8,
    /// Most pixels an upload may declare (checked from its header, before decoding).
    pub max_pixels: u64,
    /// Longest side an upload may declare.
    pub max_side: u32,
    /// Most bytes the decoder may allocate for one image.
    pub max_decode_bytes: u64,
    /// Images decoded at once.
    pub workers: usize,
    /// Uploads waiting for a worker beyond those (503 beyond).
    pub queue: usize,
    /// Upload bodies read at once (503 beyond); bodies in memory are at most this many times
    /// `max_upload_bytes`.
    pub max_concurrent_uploads: usize,
    /// Seconds an upload's body may take to arrive (408 beyond).
    pub upload_timeout_secs: u64,
    /// `database` or `directory`.
    pub store: AvatarStoreKind,
    /// The directory, when `store = "directory"`.
    pub directory: Option<PathBuf>,
}

impl Default for AvatarsConfig {
    fn default() -> Self {
        let image = ImageSettings::default();
        Self {
            max_upload_bytes: image.max_upload_bytes,
            size: image.size,
            shape: AvatarShape::Crop,
            format: AvatarFormatConfig::Jpeg,
            jpeg_quality: image.jpeg_quality,
            max_pixels: image.max_pixels,
            max_side: image.max_side,
            max_decode_bytes: image.max_alloc,
            workers: image.workers,
            queue: image.queue,
            max_concurrent_uploads: 8,
            upload_timeout_secs: 60,
            store: AvatarStoreKind::Database,
            directory: None,
        }
    }
}

impl AvatarsConfig {
    /// The image adapter's settings.
    pub fn image_settings(&self) -> ImageSettings {
        ImageSettings {
            size: self.size,
            shape: match self.shape {
                AvatarShape::Crop => Shape::Crop,
                AvatarShape::Fit => Shape::Fit,
            },
            format: match self.format {
                AvatarFormatConfig::Jpeg => portcullis_domain::AvatarFormat::Jpeg,
                AvatarFormatConfig::Png => portcullis_domain::AvatarFormat::Png,
                AvatarFormatConfig::Webp => portcullis_domain::AvatarFormat::Webp,
            },
            jpeg_quality: self.jpeg_quality,
            max_pixels: self.max_pixels,
            max_side: self.max_side,
            max_alloc: self.max_decode_bytes,
            max_upload_bytes: self.max_upload_bytes,
            workers: self.workers,
            queue: self.queue,
        }
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        if !(1024..=64 * 1024 * 1024).contains(&self.max_upload_bytes) {
            problems.push("avatars.max_upload_bytes must be between 1024 and 67108864");
        }
        if !(16..=1024).contains(&self.size) {
            problems.push("avatars.size must be between 16 and 1024");
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            problems.push("avatars.jpeg_quality must be between 1 and 100");
        }
        if !(1..=100_000_000).contains(&self.max_pixels) || !(1..=65_535).contains(&self.max_side) {
            problems.push("avatars: max_pixels must be 1 to 100000000 and max_side 1 to 65535");
        }
        if !(1024 * 1024..=2 * 1024 * 1024 * 1024).contains(&self.max_decode_bytes) {
            problems.push("avatars.max_decode_bytes must be between 1 MiB and 2 GiB");
        }
        if !(1..=64).contains(&self.workers) || self.queue > 10_000 {
            problems.push("avatars: workers must be 1 to 64 and queue at most 10000");
        }
        if !(1..=10_000).contains(&self.max_concurrent_uploads) || !(1..=3600).contains(&self.upload_timeout_secs) {
            problems.push("avatars: max_concurrent_uploads must be 1 to 10000 and upload_timeout_secs 1 to 3600");
        }
        match (self.store, &self.directory) {
            (AvatarStoreKind::Directory, None) => {
                problems.push("avatars.directory is required when avatars.store = \"directory\"");
            }
            (AvatarStoreKind::Database, Some(_)) => {
                problems.push("avatars.directory is set but avatars.store is \"database\": set store = \"directory\"");
            }
            _ => {}
        }
        problems.into_result()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_a_directory_store_needs_its_directory() {
        assert!(AvatarsConfig::default().validate().is_ok());
        let directory = AvatarsConfig {
            store: AvatarStoreKind::Directory,
            ..AvatarsConfig::default()
        };
        assert!(
            directory
                .validate()
                .unwrap_err()
                .0
                .contains("avatars.directory is required")
        );
        let stray = AvatarsConfig {
            directory: Some("/tmp/x".into()),
            ..AvatarsConfig::default()
        };
        assert!(stray.validate().is_err(), "a directory the database store would ignore");
        let tiny = AvatarsConfig {
            size: 0,
            jpeg_quality: 0,
            workers: 0,
            ..AvatarsConfig::default()
        };
        let problems = tiny.validate().unwrap_err().0;
        assert_eq!(problems.lines().count(), 3, "{problems}");
    }
}
