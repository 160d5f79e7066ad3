//! Uploaded images: known by their bytes (never their name or the
//! client's Content-Type), turned upright as their EXIF orientation says,
//! then re-encoded from pixels — so EXIF, GPS, XMP, IPTC, ICC comments and
//! file names are all gone, because nothing but pixels is carried over.
//! Each gets a preview, a blurhash and Mastodon's `meta`.

use image::{AnimationDecoder, DynamicImage, GenericImageView, ImageDecoder, ImageFormat};
use serde_json::{json, Value};
use std::io::Cursor;

/// The types an upload may be. Video and audio are refused: their
/// metadata cannot be stripped here.
pub const ACCEPTED: &[&str] = &["image/jpeg", "image/png", "image/gif", "image/webp"];

/// Pixels an image may have on arrival (Mastodon's 8K limit).
pub const MAX_PIXELS: u64 = 33_177_600;
/// Pixels an attachment is stored with at most (larger ones are scaled
/// down, as Mastodon does).
pub const STORED_PIXELS: u64 = 8_294_400;
/// A preview's bounding box.
const PREVIEW: u32 = 640;

#[derive(Debug)]
pub enum Refusal {
    /// Not an image of an accepted type (whatever its name said).
    Unsupported,
    /// Too many pixels.
    TooLarge,
    /// It claims to be an image but does not decode.
    Corrupt,
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::Unsupported => format!(
                "Validation failed: File content type is invalid (accepted: {})",
                ACCEPTED.join(", ")
            ),
            Refusal::TooLarge => {
                format!("Validation failed: File is larger than {MAX_PIXELS} pixels")
            }
            Refusal::Corrupt => "Validation failed: File could not be processed".into(),
        }
    }
}

/// What the image is for: its size and shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Attachment,
    /// Cropped to a square, 400 pixels.
    Avatar,
    /// Cropped to 3:1, 1500 pixels wide.
    Header,
}

/// A processed image.
#[derive(Debug)]
pub struct Processed {
    /// `image` (a static or animated picture).
    pub kind: &'static str,
    pub content_type: &'static str,
    pub ext: &'static str,
    pub bytes: Vec<u8>,
    pub preview: Vec<u8>,
    pub preview_type: &'static str,
    pub preview_ext: &'static str,
    pub blurhash: String,
    /// Mastodon's `meta`: `original` and `small` sizes.
    pub meta: Value,
}

fn size_meta(w: u32, h: u32) -> Value {
    json!({
        "width": w, "height": h, "size": format!("{w}x{h}"),
        "aspect": if h == 0 { 0.0 } else { f64::from(w) / f64::from(h) },
    })
}

fn encode(img: &DynamicImage, jpeg: bool) -> Result<Vec<u8>, Refusal> {
    let mut out = Cursor::new(Vec::new());
    if jpeg {
        let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
        DynamicImage::ImageRgb8(img.to_rgb8())
            .write_with_encoder(enc)
            .map_err(|_| Refusal::Corrupt)?;
    } else {
        img.write_to(&mut out, ImageFormat::Png)
            .map_err(|_| Refusal::Corrupt)?;
    }
    Ok(out.into_inner())
}

/// Scales down to at most `pixels` pixels, keeping the shape.
fn fit_pixels(img: DynamicImage, pixels: u64) -> DynamicImage {
    let (w, h) = img.dimensions();
    let have = u64::from(w) * u64::from(h);
    if have <= pixels || have == 0 {
        return img;
    }
    let scale = (pixels as f64 / have as f64).sqrt();
    let nw = ((f64::from(w) * scale).floor() as u32).max(1);
    let nh = ((f64::from(h) * scale).floor() as u32).max(1);
    // `thumbnail` scales with integer arithmetic: a filtered resize of a
    // 12-megapixel photo would hold several hundred megabytes of floats.
    img.thumbnail(nw, nh)
}

/// Crops the middle to `w`:`h` and scales to `w`×`h` (never up).
fn cover(img: DynamicImage, w: u32, h: u32) -> DynamicImage {
    let (iw, ih) = img.dimensions();
    let target = f64::from(w) / f64::from(h);
    let (cw, ch) = if f64::from(iw) / f64::from(ih.max(1)) > target {
        (((f64::from(ih) * target) as u32).max(1), ih)
    } else {
        (iw, ((f64::from(iw) / target) as u32).max(1))
    };
    let cropped = img.crop_imm((iw - cw.min(iw)) / 2, (ih - ch.min(ih)) / 2, cw, ch);
    if cw > w {
        cropped.thumbnail_exact(w, h)
    } else {
        cropped
    }
}

/// The preview: within `PREVIEW` pixels, never larger than the image.
fn small_of(img: &DynamicImage) -> DynamicImage {
    let (w, h) = img.dimensions();
    if w <= PREVIEW && h <= PREVIEW {
        img.clone()
    } else {
        img.thumbnail(PREVIEW, PREVIEW)
    }
}

/// Processes an upload.
pub fn process(bytes: &[u8], fit: Fit) -> Result<Processed, Refusal> {
    let format = image::guess_format(bytes).map_err(|_| Refusal::Unsupported)?;
    if !matches!(
        format,
        ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::Gif | ImageFormat::WebP
    ) {
        return Err(Refusal::Unsupported);
    }
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(16_384);
    limits.max_image_height = Some(16_384);
    limits.max_alloc = Some(512 * 1024 * 1024);

    // An animated GIF keeps its frames (re-encoded: its comments and
    // application extensions, where XMP hides, are not carried over).
    if format == ImageFormat::Gif && fit == Fit::Attachment {
        if let Some(p) = animated_gif(bytes)? {
            return Ok(p);
        }
    }

    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().map_err(|_| Refusal::Corrupt)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refusal::TooLarge);
    }
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut img = DynamicImage::from_decoder(decoder).map_err(|_| Refusal::Corrupt)?;
    img.apply_orientation(orientation);
    let img = match fit {
        Fit::Attachment => fit_pixels(img, STORED_PIXELS),
        Fit::Avatar => cover(img, 400, 400),
        Fit::Header => cover(img, 1500, 500),
    };
    // Photographs stay JPEG; everything else (which may be transparent)
    // becomes PNG.
    let jpeg = format == ImageFormat::Jpeg;
    let out = encode(&img, jpeg)?;
    let small = small_of(&img);
    let preview = encode(&small, jpeg)?;
    let (ow, oh) = img.dimensions();
    let (sw, sh) = small.dimensions();
    let (ct, ext) = if jpeg {
        ("image/jpeg", "jpg")
    } else {
        ("image/png", "png")
    };
    Ok(Processed {
        kind: "image",
        content_type: ct,
        ext,
        bytes: out,
        preview,
        preview_type: ct,
        preview_ext: ext,
        blurhash: blurhash(&small),
        meta: json!({ "original": size_meta(ow, oh), "small": size_meta(sw, sh) }),
    })
}

/// An animated GIF, re-encoded frame by frame; `None` for a still one.
fn animated_gif(bytes: &[u8]) -> Result<Option<Processed>, Refusal> {
    let decoder =
        image::codecs::gif::GifDecoder::new(Cursor::new(bytes)).map_err(|_| Refusal::Corrupt)?;
    let (w, h) = decoder.dimensions();
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(Refusal::TooLarge);
    }
    let frames = decoder
        .into_frames()
        .take(1000)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| Refusal::Corrupt)?;
    if frames.len() < 2 {
        return Ok(None);
    }
    let first = frames
        .first()
        .map(|f| DynamicImage::ImageRgba8(f.buffer().clone()))
        .ok_or(Refusal::Corrupt)?;
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite)
            .map_err(|_| Refusal::Corrupt)?;
        enc.encode_frames(frames).map_err(|_| Refusal::Corrupt)?;
    }
    let small = small_of(&first);
    let preview = encode(&small, false)?;
    let (sw, sh) = small.dimensions();
    Ok(Some(Processed {
        kind: "image",
        content_type: "image/gif",
        ext: "gif",
        bytes: out,
        preview,
        preview_type: "image/png",
        preview_ext: "png",
        blurhash: blurhash(&small),
        meta: json!({ "original": size_meta(w, h), "small": size_meta(sw, sh) }),
    }))
}

const BASE83: &[u8] =
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

fn base83(mut value: u64, length: u32, out: &mut String) {
    let mut digits = Vec::new();
    for _ in 0..length {
        digits.push(value % 83);
        value /= 83;
    }
    for d in digits.into_iter().rev() {
        out.push(char::from(BASE83.get(d as usize).copied().unwrap_or(b'0')));
    }
}

fn to_linear(v: u8) -> f64 {
    let v = f64::from(v) / 255.0;
    if v <= 0.04045 {
        v / 12.92
    } else {
        ((v + 0.055) / 1.055).powf(2.4)
    }
}

fn to_srgb(v: f64) -> u64 {
    let v = v.clamp(0.0, 1.0);
    if v <= 0.003_130_8 {
        (v * 12.92 * 255.0 + 0.5) as u64
    } else {
        ((1.055 * v.powf(1.0 / 2.4) - 0.055) * 255.0 + 0.5) as u64
    }
}

fn sign_pow(v: f64, e: f64) -> f64 {
    v.abs().powf(e).copysign(v)
}

/// The image's blurhash (https://blurha.sh), 4×3 components, computed on a
/// 32-pixel copy.
pub fn blurhash(img: &DynamicImage) -> String {
    let small = img.thumbnail(32, 32).to_rgb8();
    let (w, h) = small.dimensions();
    let (cx, cy) = (4u32, 3u32);
    let px: Vec<[f64; 3]> = small
        .pixels()
        .map(|p| [to_linear(p.0[0]), to_linear(p.0[1]), to_linear(p.0[2])])
        .collect();
    let mut factors: Vec<[f64; 3]> = Vec::new();
    for j in 0..cy {
        for i in 0..cx {
            let norm = if i == 0 && j == 0 { 1.0 } else { 2.0 };
            let mut f = [0.0; 3];
            for (n, p) in px.iter().enumerate() {
                let x = (n as u32) % w.max(1);
                let y = (n as u32) / w.max(1);
                let basis = norm
                    * (std::f64::consts::PI * f64::from(i) * f64::from(x) / f64::from(w)).cos()
                    * (std::f64::consts::PI * f64::from(j) * f64::from(y) / f64::from(h)).cos();
                for c in 0..3 {
                    if let (Some(fc), Some(pc)) = (f.get_mut(c), p.get(c)) {
                        *fc += basis * pc;
                    }
                }
            }
            let scale = 1.0 / f64::from((w * h).max(1));
            factors.push(f.map(|v| v * scale));
        }
    }
    let mut out = String::new();
    base83(u64::from((cx - 1) + (cy - 1) * 9), 1, &mut out);
    let (dc, ac) = factors
        .split_first()
        .map_or(([0.0; 3], &[][..]), |(d, a)| (*d, a));
    let max = if ac.is_empty() {
        base83(0, 1, &mut out);
        1.0
    } else {
        let actual = ac
            .iter()
            .flat_map(|f| f.iter())
            .fold(0.0f64, |m, v| m.max(v.abs()));
        let q = ((actual * 166.0 - 0.5).floor()).clamp(0.0, 82.0);
        base83(q as u64, 1, &mut out);
        (q + 1.0) / 166.0
    };
    let [r, g, b] = dc;
    base83(
        (to_srgb(r) << 16) + (to_srgb(g) << 8) + to_srgb(b),
        4,
        &mut out,
    );
    for f in ac {
        let q = |v: f64| ((sign_pow(v / max, 0.5) * 9.0 + 9.5).floor()).clamp(0.0, 18.0) as u64;
        let [r, g, b] = *f;
        base83(q(r) * 19 * 19 + q(g) * 19 + q(b), 2, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_blurhash_has_the_shape_and_average_colour_of_the_spec() {
        // 4×3 components: size flag 21 = "L", then the quantised maximum,
        // the average colour in four digits and eleven two-digit ACs.
        let img =
            DynamicImage::ImageRgb8(image::RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0])));
        let h = blurhash(&img);
        assert_eq!(h.len(), 1 + 1 + 4 + 2 * 11, "{h}");
        assert!(h.starts_with('L'), "{h}");
        // Pure red's average is sRGB 0xFF0000 = base 83 "TI:j".
        assert_eq!(h.get(2..6), Some("TI:j"), "{h}");
        let mut dc = String::new();
        base83(0xFF0000, 4, &mut dc);
        assert_eq!(dc, "TI:j");
        // A different picture, a different hash.
        let other = DynamicImage::ImageRgb8(image::RgbImage::from_fn(8, 8, |x, _| {
            image::Rgb([0, (x * 30) as u8, 255])
        }));
        assert_ne!(blurhash(&other), h);
    }

    #[test]
    fn names_and_claims_do_not_make_an_image() {
        assert!(matches!(
            process(b"<html>not a png</html>", Fit::Attachment),
            Err(Refusal::Unsupported)
        ));
        // A PNG signature with nothing behind it does not decode.
        assert!(matches!(
            process(b"\x89PNG\r\n\x1a\n", Fit::Attachment),
            Err(Refusal::Corrupt)
        ));
    }
}
