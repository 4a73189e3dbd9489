//! Avatars from real images of each format made here, and from hostile ones: metadata gone,
//! garbage, truncations, SVG and polyglots refused, a decompression bomb refused from its
//! header, random and mutated bytes never panicking, a full queue refusing at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use image::ImageFormat;
use portcullis_domain::{AvatarFormat, ImageProcessor, ImageRejection, UploadFormat};
use portcullis_images::fixtures::{bomb, chunk, contains, encoded, picture, with_chunks, with_exif};
use portcullis_images::{AvatarProcessor, ImageSettings, Shape, process};
use rand::{Rng, SeedableRng};

fn settings() -> ImageSettings {
    ImageSettings::default()
}

#[test]
fn every_accepted_format_becomes_a_square_avatar_of_the_configured_format() {
    let source = picture(640, 480);
    for (format, expected) in [
        (ImageFormat::Png, UploadFormat::Png),
        (ImageFormat::Jpeg, UploadFormat::Jpeg),
        (ImageFormat::WebP, UploadFormat::Webp),
        (ImageFormat::Gif, UploadFormat::Gif),
    ] {
        let upload = encoded(&source, format);
        let avatar = process(&upload, &settings()).unwrap_or_else(|e| panic!("{format:?}: {e}"));
        assert_eq!(avatar.source, expected);
        assert_eq!((avatar.width, avatar.height), (256, 256), "{format:?}");
        assert_eq!(avatar.format, AvatarFormat::Jpeg);
        assert_eq!(image::guess_format(&avatar.bytes).unwrap(), ImageFormat::Jpeg);
        let back = image::load_from_memory(&avatar.bytes).unwrap();
        assert_eq!((back.width(), back.height()), (256, 256));
    }
    for (format, magic) in [
        (AvatarFormat::Png, ImageFormat::Png),
        (AvatarFormat::Webp, ImageFormat::WebP),
    ] {
        let s = ImageSettings {
            format,
            size: 64,
            shape: Shape::Fit,
            ..settings()
        };
        let avatar = process(&encoded(&source, ImageFormat::Png), &s).unwrap();
        assert_eq!(image::guess_format(&avatar.bytes).unwrap(), magic);
        assert_eq!((avatar.width, avatar.height), (64, 48), "fit keeps the aspect ratio");
        let back = image::load_from_memory(&avatar.bytes).unwrap();
        assert!(back.color().has_alpha(), "{format:?} keeps transparency");
    }
}

#[test]
fn nothing_of_the_uploaded_file_but_its_pixels_survives() {
    let source = picture(300, 300);
    let png = with_chunks(
        &encoded(&source, ImageFormat::Png),
        &[
            chunk(b"tEXt", b"Comment\0SECRET-COMMENT"),
            chunk(b"eXIf", b"MM\0*SECRET-GPS-48.8584N"),
        ],
    );
    assert!(image::load_from_memory(&png).is_ok(), "the doctored PNG is valid");
    let jpeg = with_exif(&encoded(&source, ImageFormat::Jpeg), b"SECRET-GPS-48.8584N");
    assert!(image::load_from_memory(&jpeg).is_ok(), "the doctored JPEG is valid");
    for format in [AvatarFormat::Jpeg, AvatarFormat::Png, AvatarFormat::Webp] {
        let s = ImageSettings { format, ..settings() };
        for upload in [&png, &jpeg] {
            let avatar = process(upload, &s).unwrap();
            assert!(!contains(&avatar.bytes, b"SECRET"), "{format:?}");
            assert!(!contains(&avatar.bytes, b"Exif") && !contains(&avatar.bytes, b"eXIf"));
            assert!(!contains(&avatar.bytes, b"tEXt") && !contains(&avatar.bytes, b"iCCP"));
        }
    }
    // A valid image with a page appended: the avatar is made from the image, the page is gone.
    let mut polyglot = encoded(&source, ImageFormat::Png);
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let avatar = process(&polyglot, &settings()).unwrap();
    assert!(!contains(&avatar.bytes, b"<script"));
}

fn invalid(upload: &[u8]) -> bool {
    matches!(process(upload, &settings()), Err(ImageRejection::Invalid(_)))
}

#[test]
fn garbage_truncations_svg_and_polyglots_are_not_images() {
    assert!(invalid(b""));
    assert!(invalid(b"hello, this is not a picture at all"));
    assert!(invalid(&[0u8; 4096]));
    assert!(invalid(
        br#"<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(1)</script></svg>"#
    ));
    assert!(invalid(br#"<svg xmlns="http://www.w3.org/2000/svg"/>"#));
    // Starts like a GIF, is a script.
    let gifar = process(b"GIF89a/*\x00\x00*/=1;alert(document.domain);//", &settings());
    // Its "width" is `/*` (10 799 px): refused as too large, which is the same 422.
    assert!(
        matches!(gifar, Err(ImageRejection::Invalid(_) | ImageRejection::TooLarge(_))),
        "{gifar:?}"
    );
    assert!(invalid(b"GIF89a\x01\x00\x01\x00/*alert(document.domain)*/"));
    // BMP and TIFF headers: formats decoders exist for, not accepted here.
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0u8; 64]);
    assert!(invalid(&bmp));
    let mut tiff = b"II*\0".to_vec();
    tiff.extend_from_slice(&[0u8; 64]);
    assert!(invalid(&tiff));
    for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif] {
        let whole = encoded(&picture(200, 200), format);
        for cut in [8, 40, whole.len() / 2] {
            assert!(invalid(&whole[..cut]), "{format:?} cut at {cut}");
        }
    }
}

#[test]
fn a_decompression_bomb_is_refused_from_its_header() {
    for (w, h) in [(40_000, 40_000), (8192, 8192), (100_000, 1), (1, 100_000)] {
        let refused = process(&bomb(w, h), &settings());
        assert!(
            matches!(refused, Err(ImageRejection::TooLarge(_))),
            "{w} × {h}: {refused:?}"
        );
    }
    let oversized = vec![0u8; ImageSettings::default().max_upload_bytes + 1];
    assert!(matches!(
        process(&oversized, &settings()),
        Err(ImageRejection::TooLarge(_))
    ));
}

#[test]
fn random_and_mutated_bytes_never_panic() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x0a7a_7a25);
    let small = ImageSettings { size: 16, ..settings() };
    let seeds: Vec<Vec<u8>> = [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP, ImageFormat::Gif]
        .into_iter()
        .map(|f| encoded(&picture(48, 40), f))
        .collect();
    for round in 0..1500 {
        let upload = if round % 3 == 0 {
            let len = rng.random_range(0..512);
            (0..len).map(|_| rng.random::<u8>()).collect::<Vec<u8>>()
        } else {
            let mut bytes = seeds[round % seeds.len()].clone();
            for _ in 0..rng.random_range(1..8) {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
            }
            if rng.random_bool(0.3) {
                let keep = rng.random_range(0..bytes.len());
                bytes.truncate(keep);
            }
            bytes
        };
        // Whatever the answer, it is an answer.
        let _ = process(&upload, &small);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once_and_the_admitted_finish() {
    let processor = AvatarProcessor::new(ImageSettings {
        workers: 1,
        queue: 1,
        ..settings()
    });
    let upload = encoded(&picture(1024, 1024), ImageFormat::Png);
    let results = futures_join(&processor, &upload, 6).await;
    let busy = results
        .iter()
        .filter(|r| matches!(r, Err(ImageRejection::Busy)))
        .count();
    let made = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!((made, busy), (2, 4), "{results:?}");
    // And room again once they are done.
    assert!(processor.avatar(upload).await.is_ok());
}

async fn futures_join(
    processor: &AvatarProcessor,
    upload: &[u8],
    n: usize,
) -> Vec<Result<portcullis_domain::AvatarImage, ImageRejection>> {
    // `join_all` polls every call once, in order (each is admitted or refused then), before
    // any of them can finish.
    futures_util::future::join_all((0..n).map(|_| processor.avatar(upload.to_vec()))).await
}

/// An EXIF block (big-endian TIFF) with one tag: Orientation = `value`.
fn exif_orientation(value: u16) -> Vec<u8> {
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    tiff.extend_from_slice(&value.to_be_bytes());
    tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    tiff
}

#[test]
fn a_phone_photo_keeps_its_orientation_and_its_trailer_does_not_matter() {
    let fit = ImageSettings {
        shape: Shape::Fit,
        size: 64,
        ..settings()
    };
    let landscape = encoded(&picture(300, 100), ImageFormat::Jpeg);
    let plain = process(&landscape, &fit).unwrap();
    assert_eq!((plain.width, plain.height), (64, 21));
    // Stored landscape, shown portrait: "rotate 90° clockwise" (6).
    let rotated = process(&with_exif(&landscape, &exif_orientation(6)), &fit).unwrap();
    assert_eq!((rotated.width, rotated.height), (21, 64), "the rotation is applied");
    assert!(!contains(&rotated.bytes, b"Exif"), "and the tag is gone");
    // Phone makers append data after the end-of-image marker; it is not the picture.
    let mut trailer = landscape.clone();
    trailer.extend_from_slice(b"SEFHmotion-photo-trailer\x00\x01\x02");
    let made = process(&trailer, &fit).unwrap();
    assert!(!contains(&made.bytes, b"motion-photo"));
    // An EXIF thumbnail (a whole JPEG inside APP1) does not make a truncated photo whole.
    let thumbnail = encoded(&picture(16, 16), ImageFormat::Jpeg);
    let cut = with_exif(&landscape[..landscape.len() / 2], &thumbnail);
    assert!(matches!(process(&cut, &fit), Err(ImageRejection::Invalid(_))));
}
