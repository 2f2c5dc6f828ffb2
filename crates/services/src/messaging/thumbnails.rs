//! Image previews (M1): when a PNG or JPEG arrives, the server draws a picture at most
//! [`EDGE`] pixels on its longer side and seals it beside the file, so the conversation shows
//! the image without anyone downloading it in full.
//!
//! Decoding a stranger's image is where a small file can ask for a lot of memory (a 20-byte PNG
//! header may claim 100,000 × 100,000 pixels), so every decode runs under [`image::Limits`], on
//! the blocking pool, one at a time per core. A file that is not what its type says, or is too
//! large to decode, simply gets no preview: the upload itself stands.

use image::{ImageDecoder as _, ImageFormat};
use std::io::Cursor;
use std::sync::LazyLock;
use tokio::sync::Semaphore;

/// The longer side of a preview, in pixels (twice what the client draws, for sharp screens).
pub const EDGE: u32 = 640;
/// The largest picture decoded for a preview: 50 megapixels (a 8,000 × 6,000 photo is 48).
const MAX_PIXELS: u64 = 50_000_000;
/// Memory one decode may ask for.
const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// Decodes in flight: one per core, so previews cannot take the machine from messages.
static DECODES: LazyLock<Semaphore> =
    LazyLock::new(|| Semaphore::new(std::thread::available_parallelism().map_or(1, |n| n.get())));

/// A drawn preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
}

/// Which kinds of file get a preview.
pub fn format_of(content_type: &str) -> Option<ImageFormat> {
    match content_type {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        _ => None,
    }
}

/// Draws a preview of `bytes` (a whole file of `format`) on the blocking pool; `None` when it
/// cannot be decoded within the limits.
pub async fn draw(bytes: Vec<u8>, format: ImageFormat) -> Option<Preview> {
    let _permit = DECODES.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || draw_now(&bytes, format)).await.ok().flatten()
}

fn draw_now(bytes: &[u8], format: ImageFormat) -> Option<Preview> {
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_ALLOC);
    reader.limits(limits);
    let mut decoder = reader.into_decoder().ok()?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return None;
    }
    // A photo's orientation tag says which way is up; the preview is drawn upright.
    let orientation = decoder.orientation().ok();
    let mut picture = image::DynamicImage::from_decoder(decoder).ok()?;
    if let Some(o) = orientation {
        picture.apply_orientation(o);
    }
    let small = if picture.width() > EDGE || picture.height() > EDGE { picture.thumbnail(EDGE, EDGE) } else { picture };
    let mut out = Cursor::new(Vec::new());
    let content_type = match format {
        ImageFormat::Jpeg => {
            let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80);
            small.to_rgb8().write_with_encoder(encoder).ok()?;
            "image/jpeg"
        }
        _ => {
            small.write_to(&mut out, ImageFormat::Png).ok()?;
            "image/png"
        }
    };
    Some(Preview { bytes: out.into_inner(), content_type, width: small.width(), height: small.height() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(w: u32, h: u32) -> Vec<u8> {
        let picture = image::RgbaImage::from_pixel(w, h, image::Rgba([200, 30, 30, 255]));
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn large_pictures_shrink_keeping_their_shape_and_small_ones_stay() {
        let p = draw_now(&png(1600, 800), ImageFormat::Png).unwrap();
        assert_eq!((p.width, p.height, p.content_type), (EDGE, EDGE / 2, "image/png"));
        let decoded = image::load_from_memory(&p.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (EDGE, EDGE / 2));
        let small = draw_now(&png(40, 30), ImageFormat::Png).unwrap();
        assert_eq!((small.width, small.height), (40, 30));
    }

    #[test]
    fn what_is_not_the_declared_image_gets_no_preview() {
        assert!(draw_now(b"plain text, not a picture", ImageFormat::Png).is_none());
        assert!(draw_now(&png(10, 10), ImageFormat::Jpeg).is_none(), "a PNG declared as JPEG");
    }

    #[test]
    fn a_header_claiming_a_huge_picture_is_refused_before_decoding() {
        // A valid PNG header and IHDR chunk claiming 100,000 x 100,000 pixels, and nothing else.
        let mut bomb = png(1, 1);
        bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        let crc = crc32(&bomb[12..29]);
        bomb[29..33].copy_from_slice(&crc.to_be_bytes());
        assert!(draw_now(&bomb, ImageFormat::Png).is_none());
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for b in bytes {
            crc ^= u32::from(*b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }

    #[test]
    fn only_png_and_jpeg_are_drawn() {
        assert_eq!(format_of("image/png"), Some(ImageFormat::Png));
        assert_eq!(format_of("image/jpeg"), Some(ImageFormat::Jpeg));
        assert_eq!(format_of("image/svg+xml"), None);
        assert_eq!(format_of("application/pdf"), None);
    }
}
