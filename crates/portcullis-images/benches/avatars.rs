//! What an avatar upload costs: a phone-sized photo (4032 × 3024 JPEG) and a small PNG made
//! into the default 256 px JPEG avatar, and a decompression bomb (a PNG of a few dozen bytes
//! declaring 40 000 × 40 000) refused from its header.
//!
//! Run: `cargo bench -p portcullis-images --bench avatars`

use std::hint::black_box;
use std::io::Cursor;

use criterion::{Criterion, criterion_group, criterion_main};
use image::{DynamicImage, ImageFormat, RgbImage};
use portcullis_images::fixtures::bomb;
use portcullis_images::{ImageSettings, process};

fn photo(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let image = DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 251) as u8, (y % 241) as u8, ((x ^ y) % 239) as u8])
    }));
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn avatars(c: &mut Criterion) {
    let settings = ImageSettings::default();
    let big = photo(4032, 3024, ImageFormat::Jpeg);
    let small = photo(640, 480, ImageFormat::Png);
    let bomb = bomb(40_000, 40_000);
    let mut group = c.benchmark_group("avatar");
    group.sample_size(10);
    group.bench_function("4032x3024 jpeg (12 MP photo)", |b| {
        b.iter(|| process(black_box(&big), &settings).expect("avatar"))
    });
    group.bench_function("640x480 png", |b| {
        b.iter(|| process(black_box(&small), &settings).expect("avatar"))
    });
    group.bench_function("40000x40000 png bomb refused", |b| {
        b.iter(|| process(black_box(&bomb), &settings).expect_err("refused"))
    });
    group.finish();
}

criterion_group!(benches, avatars);
criterion_main!(benches);
