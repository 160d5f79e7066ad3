//! Media uploads: real JPEG, PNG, WebP and GIF files carrying GPS EXIF, XMP
//! and comments go in; what is served carries none of it. An upload is
//! owned by its token's capability, and attaching it (anonymously too)
//! leaves nothing tied to a login.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use actix_web::http::Method;
use common::{Body, TestApp};
use serde_json::{json, Value};
use std::io::Cursor;

const SECRET: &str = "GUISE-SECRET";
const BOUNDARY: &str = "guiseboundary7MA4YWxkTrZu0gW";
const MULTIPART: &str = "multipart/form-data; boundary=guiseboundary7MA4YWxkTrZu0gW";

/// A multipart body with text fields and one file part.
fn multipart(fields: &[(&str, &str)], file_field: &str, file_name: &str, bytes: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    for (k, v) in fields {
        b.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    b.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{file_field}\"; filename=\"{file_name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
            .as_bytes(),
    );
    b.extend_from_slice(bytes);
    b.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    b
}

/// A big-endian TIFF (EXIF) block: orientation 6 (turn 90° clockwise), a
/// description and a GPS latitude, all carrying the secret.
fn exif_tiff() -> Vec<u8> {
    let desc = format!("{SECRET}-EXIF\0");
    let gps_ref = b"N\0\0\0";
    // Header (8) + IFD0 with 3 entries (2 + 36 + 4) = 50; GPS IFD at 50 with
    // 1 entry (2 + 12 + 4) = 18 → 68; description at 68.
    let mut t = Vec::new();
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    t.extend_from_slice(&3u16.to_be_bytes());
    // ImageDescription, ASCII, count, offset 68.
    t.extend_from_slice(&[0x01, 0x0E, 0, 2]);
    t.extend_from_slice(&(desc.len() as u32).to_be_bytes());
    t.extend_from_slice(&68u32.to_be_bytes());
    // Orientation, SHORT, 1, value 6.
    t.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    // GPSInfo pointer, LONG, 1, offset 50.
    t.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1]);
    t.extend_from_slice(&50u32.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len(), 50);
    // GPS IFD: GPSLatitudeRef "N".
    t.extend_from_slice(&1u16.to_be_bytes());
    t.extend_from_slice(&[0, 1, 0, 2, 0, 0, 0, 2]);
    t.extend_from_slice(gps_ref);
    t.extend_from_slice(&0u32.to_be_bytes());
    assert_eq!(t.len(), 68);
    t.extend_from_slice(desc.as_bytes());
    t
}

fn xmp() -> String {
    format!(
        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description xmlns:exif=\"http://ns.adobe.com/exif/1.0/\" exif:GPSLatitude=\"52,31.2N\">{SECRET}-XMP</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
}

fn picture(w: u32, h: u32) -> image::RgbaImage {
    image::RgbaImage::from_fn(w, h, |x, y| {
        image::Rgba([(x * 255 / w) as u8, (y * 255 / h) as u8, 128, 255])
    })
}

fn jpeg() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(picture(64, 48))
        .to_rgb8()
        .write_to(&mut out, image::ImageFormat::Jpeg)
        .unwrap();
    let plain = out.into_inner();
    let mut f = plain[..2].to_vec();
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&exif_tiff());
    f.extend_from_slice(&[0xFF, 0xE1]);
    f.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    f.extend_from_slice(&app1);
    let mut x = b"http://ns.adobe.com/xap/1.0/\0".to_vec();
    x.extend_from_slice(xmp().as_bytes());
    f.extend_from_slice(&[0xFF, 0xE1]);
    f.extend_from_slice(&((x.len() + 2) as u16).to_be_bytes());
    f.extend_from_slice(&x);
    f.extend_from_slice(&plain[2..]);
    f
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = (data.len() as u32).to_be_bytes().to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_be_bytes());
    c
}

fn png() -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(picture(40, 30))
        .write_to(&mut out, image::ImageFormat::Png)
        .unwrap();
    let plain = out.into_inner();
    // eXIf before the image data, where the orientation is read from.
    let mut f = plain[..33].to_vec();
    f.extend_from_slice(&png_chunk(b"eXIf", &exif_tiff()));
    let iend = plain.len() - 12;
    f.extend_from_slice(&plain[33..iend]);
    let mut itxt = b"XML:com.adobe.xmp\0\0\0\0\0".to_vec();
    itxt.extend_from_slice(xmp().as_bytes());
    f.extend_from_slice(&png_chunk(b"iTXt", &itxt));
    f.extend_from_slice(&png_chunk(
        b"tEXt",
        format!("Comment\0{SECRET}-TEXT").as_bytes(),
    ));
    f.extend_from_slice(&plain[iend..]);
    f
}

fn riff_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = kind.to_vec();
    c.extend_from_slice(&(data.len() as u32).to_le_bytes());
    c.extend_from_slice(data);
    if data.len() % 2 == 1 {
        c.push(0);
    }
    c
}

fn webp() -> Vec<u8> {
    let (w, h) = (30u32, 20u32);
    let mut out = Cursor::new(Vec::new());
    image::DynamicImage::ImageRgba8(picture(w, h))
        .write_to(&mut out, image::ImageFormat::WebP)
        .unwrap();
    let plain = out.into_inner();
    // The simple form is RIFF, size, WEBP, one VP8L chunk: rewrap it in the
    // extended form, which carries EXIF and XMP chunks.
    let vp8l = &plain[12..];
    let mut vp8x = vec![0x08 | 0x04 | 0x10, 0, 0, 0];
    vp8x.extend_from_slice(&(w - 1).to_le_bytes()[..3]);
    vp8x.extend_from_slice(&(h - 1).to_le_bytes()[..3]);
    let mut body = b"WEBP".to_vec();
    body.extend_from_slice(&riff_chunk(b"VP8X", &vp8x));
    body.extend_from_slice(vp8l);
    body.extend_from_slice(&riff_chunk(b"EXIF", &exif_tiff()));
    body.extend_from_slice(&riff_chunk(b"XMP ", xmp().as_bytes()));
    let mut f = b"RIFF".to_vec();
    f.extend_from_slice(&(body.len() as u32).to_le_bytes());
    f.extend_from_slice(&body);
    f
}

/// An animated GIF (two frames) with an XMP application extension and a
/// comment, before the trailer.
fn gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new(&mut out);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite)
            .unwrap();
        let frames = [
            picture(16, 12),
            image::RgbaImage::from_pixel(16, 12, image::Rgba([0, 0, 255, 255])),
        ]
        .into_iter()
        .map(|p| image::Frame::from_parts(p, 0, 0, image::Delay::from_numer_denom_ms(100, 1)));
        enc.encode_frames(frames).unwrap();
    }
    assert_eq!(out.last(), Some(&0x3B));
    out.pop();
    // Application extension "XMP DataXMP", data in sub-blocks.
    out.extend_from_slice(&[0x21, 0xFF, 11]);
    out.extend_from_slice(b"XMP DataXMP");
    for chunk in xmp().as_bytes().chunks(255) {
        out.push(chunk.len() as u8);
        out.extend_from_slice(chunk);
    }
    out.push(0);
    // Comment extension.
    let comment = format!("{SECRET}-COMMENT");
    out.extend_from_slice(&[0x21, 0xFE, comment.len() as u8]);
    out.extend_from_slice(comment.as_bytes());
    out.push(0);
    out.push(0x3B);
    out
}

async fn upload(
    t: &TestApp,
    token: &str,
    name: &str,
    bytes: &[u8],
    fields: &[(&str, &str)],
) -> common::Resp {
    t.call(
        Method::POST,
        "/api/v2/media",
        Some(token),
        Some(Body::Raw(MULTIPART, multipart(fields, "file", name, bytes))),
    )
    .await
}

fn path_of(url: &Value) -> String {
    url.as_str().unwrap().replace("https://guise.test", "")
}

fn assert_clean(what: &str, served: &[u8]) {
    let s = String::from_utf8_lossy(served);
    for needle in [
        SECRET,
        "Exif",
        "ns.adobe.com",
        "xmpmeta",
        "XMP Data",
        "GPS",
        "photo.",
    ] {
        assert!(
            !s.contains(needle),
            "{what}: the served file still holds {needle:?}"
        );
    }
}

#[actix_web::test]
async fn every_format_loses_its_metadata_and_keeps_its_pixels() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    for (name, bytes, (w, h)) in [
        // Orientation 6: a 64×48 JPEG is shown 48 wide and 64 high.
        ("photo.jpg", jpeg(), (48, 64)),
        ("photo.png", png(), (30, 40)),
        ("photo.webp", webp(), (20, 30)),
        ("photo.gif", gif(), (16, 12)),
    ] {
        // The fixtures really carry what must go.
        assert!(
            String::from_utf8_lossy(&bytes).contains(SECRET),
            "{name} fixture"
        );
        let r = upload(&t, &alice, name, &bytes, &[("description", "a test card")]).await;
        assert_eq!(r.status, 200, "{name}: {}", r.text);
        let m = &r.json;
        assert_eq!(m["type"], "image", "{name}");
        assert_eq!(m["description"], "a test card");
        assert_eq!(m["meta"]["original"]["width"], w, "{name}: {m}");
        assert_eq!(m["meta"]["original"]["height"], h, "{name}: {m}");
        assert!(m["blurhash"].as_str().unwrap().len() >= 28, "{name}");
        let file = t.get(&path_of(&m["url"]), None).await;
        assert_eq!(file.status, 200, "{name}");
        assert_clean(name, &file.bytes);
        let decoded = image::load_from_memory(&file.bytes).unwrap();
        assert_eq!((decoded.width(), decoded.height()), (w, h), "{name}");
        let preview = t.get(&path_of(&m["preview_url"]), None).await;
        assert_eq!(preview.status, 200);
        assert_clean(name, &preview.bytes);
        // The file name is nowhere: not in the URL, not in the row.
        assert!(!m["url"].as_str().unwrap().contains("photo"));
    }
    let rows = t.dump().await;
    let uploads = rows["media_uploads"].join("\n");
    assert!(!uploads.contains("photo"), "{uploads}");
}

#[actix_web::test]
async fn what_is_not_an_accepted_image_is_refused_whatever_its_name() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    for (name, bytes) in [
        (
            "cat.png",
            b"<html><script>alert(1)</script></html>".to_vec(),
        ),
        ("cat.jpg", b"\x89PNG\r\n\x1a\nnot really".to_vec()),
        ("cat.bmp", b"BM\x36\0\0\0\0\0\0\0\x36\0\0\0".to_vec()),
        ("clip.mp4", b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom".to_vec()),
    ] {
        let r = upload(&t, &alice, name, &bytes, &[]).await;
        assert_eq!(r.status, 422, "{name}: {}", r.text);
        assert!(
            r.json["error"]
                .as_str()
                .unwrap()
                .starts_with("Validation failed"),
            "{}",
            r.text
        );
    }
    // No file part at all.
    let r = t
        .call(
            Method::POST,
            "/api/v1/media",
            Some(&alice),
            Some(Body::Raw(
                MULTIPART,
                multipart(&[("description", "x")], "other", "x.png", &png()),
            )),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(t.dump().await["media_uploads"].len(), 0);
}

#[actix_web::test]
async fn uploads_attach_to_posts_and_belong_to_the_token_that_made_them() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let m = upload(&t, &alice, "a.png", &png(), &[("focus", "0.5,-0.25")])
        .await
        .json;
    let id = m["id"].as_str().unwrap().to_owned();
    assert_eq!(m["meta"]["focus"], json!({ "x": 0.5, "y": -0.25 }));
    // Bob cannot see, change, delete or attach it.
    assert_eq!(
        t.get(&format!("/api/v1/media/{id}"), Some(&bob))
            .await
            .status,
        404
    );
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&bob),
            json!({ "status": "mine now", "media_ids": [id] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // Alice describes it, then posts it without text.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/media/{id}"),
            Some(&alice),
            Some(Body::Json(json!({ "description": "a gradient" }))),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["description"], "a gradient");
    let s = t
        .post_status(&alice, json!({ "status": "", "media_ids": [id] }))
        .await;
    let att = &s["media_attachments"][0];
    assert_eq!(att["id"], json!(id));
    assert_eq!(att["description"], "a gradient");
    assert_eq!(att["url"], m["url"]);
    // It federates as a Document with its alt text, blurhash and focus.
    let note = t.ap(&path_of(&s["uri"])).await;
    let doc = &note["attachment"][0];
    assert_eq!(doc["type"], "Document", "{note}");
    assert_eq!(doc["url"], m["url"]);
    assert_eq!(doc["name"], "a gradient");
    assert_eq!(doc["blurhash"], m["blurhash"]);
    assert_eq!(doc["focalPoint"], json!([0.5, -0.25]));
    assert_eq!(doc["mediaType"], "image/png");
    // Attached once only, and it can no longer be deleted on its own.
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "again", "media_ids": [id] }),
        )
        .await;
    assert_eq!(r.status, 422);
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/media/{id}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // Editing with the same media keeps them.
    let sid = s["id"].as_str().unwrap();
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{sid}"),
            Some(&alice),
            Some(Body::Json(
                json!({ "status": "caption", "media_ids": [id] }),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["media_attachments"][0]["id"], json!(id));
    // More than four is refused.
    let mut ids = Vec::new();
    for _ in 0..5 {
        ids.push(upload(&t, &alice, "b.png", &png(), &[]).await.json["id"].clone());
    }
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "many", "media_ids": ids }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    // An unattached upload can be deleted, and its file goes with it.
    let gone = upload(&t, &alice, "c.png", &png(), &[]).await.json;
    let gid = gone["id"].as_str().unwrap();
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/media/{gid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        t.get(&format!("/api/v1/media/{gid}"), Some(&alice))
            .await
            .status,
        404
    );
    assert_eq!(t.get(&path_of(&gone["url"]), None).await.status, 404);
    // Deleting the post leaves its upload to the sweep, which removes it
    // and its file.
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/statuses/{sid}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let before = t.dump().await["media_uploads"].len();
    let removed = guise_server::mastodon_api::media::sweep(&t.state)
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert_eq!(t.dump().await["media_uploads"].len(), before - 1);
    assert_eq!(t.get(&path_of(&m["url"]), None).await.status, 404);
    // Unattached ones go after two days.
    t.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        guise_server::mastodon_api::media::sweep(&t.state)
            .await
            .unwrap(),
        5
    );
}

#[actix_web::test]
async fn an_edit_changes_a_posts_media_and_poll() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let (_, bob) = t.user("bob").await;
    let a = upload(&t, &alice, "a.png", &png(), &[]).await.json["id"].clone();
    let b = upload(&t, &alice, "b.png", &png(), &[]).await.json["id"].clone();
    let s = t
        .post_status(&alice, json!({ "status": "one", "media_ids": [a] }))
        .await;
    let sid = s["id"].as_str().unwrap().to_owned();
    let edit = |body: serde_json::Value| {
        let (t, alice, sid) = (&t, &alice, &sid);
        async move {
            t.call(
                Method::PUT,
                &format!("/api/v1/statuses/{sid}"),
                Some(alice),
                Some(Body::Json(body)),
            )
            .await
        }
    };
    // Add one in front, and describe the one it had.
    let r = edit(json!({ "status": "two", "media_ids": [b, a],
                          "media_attributes": [{ "id": a, "description": "the first", "focus": "0.1,0.2" }] }))
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let ids: Vec<&serde_json::Value> = r.json["media_attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| &m["id"])
        .collect();
    assert_eq!(ids, vec![&b, &a]);
    assert_eq!(r.json["media_attachments"][1]["description"], "the first");
    assert_eq!(
        r.json["media_attachments"][1]["meta"]["focus"],
        json!({ "x": 0.1, "y": 0.2 })
    );
    let note = t.ap(&path_of(&s["uri"])).await;
    assert_eq!(note["attachment"].as_array().unwrap().len(), 2, "{note}");
    // No media_ids: unchanged. Someone else's upload: refused, nothing changed.
    let r = edit(json!({ "status": "three" })).await;
    assert_eq!(r.json["media_attachments"].as_array().unwrap().len(), 2);
    let bobs = upload(&t, &bob, "c.png", &png(), &[]).await.json["id"].clone();
    let r = edit(json!({ "status": "four", "media_ids": [a, bobs] })).await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r =
        edit(json!({ "status": "four", "media_attributes": [{ "id": bobs, "description": "x" }] }))
            .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t.get(&format!("/api/v1/statuses/{sid}"), None).await;
    assert_eq!(r.json["content"], "<p>three</p>");
    // Leaving one out lets it go: the sweep removes it and its file.
    let r = edit(json!({ "status": "five", "media_ids": [a] })).await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["media_attachments"].as_array().unwrap().len(), 1);
    assert_eq!(
        guise_server::mastodon_api::media::sweep(&t.state)
            .await
            .unwrap(),
        1
    );
    // An empty list (a form's lone empty value too) removes them all.
    let r = t
        .call(
            Method::PUT,
            &format!("/api/v1/statuses/{sid}"),
            Some(&alice),
            Some(Body::Form("status=six&media_ids[]=".into())),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["media_attachments"], json!([]));

    // Polls: the same options keep the votes; others start a new poll.
    let p = t
        .post_status(
            &alice,
            json!({ "status": "pick", "poll": { "options": ["x", "y"], "expires_in": 600 } }),
        )
        .await;
    let pid = p["id"].as_str().unwrap().to_owned();
    let r = t
        .post(
            &format!("/api/v1/polls/{pid}/votes"),
            Some(&bob),
            json!({ "choices": [0] }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let pedit = |body: serde_json::Value| {
        let (t, alice, pid) = (&t, &alice, &pid);
        async move {
            t.call(
                Method::PUT,
                &format!("/api/v1/statuses/{pid}"),
                Some(alice),
                Some(Body::Json(body)),
            )
            .await
        }
    };
    let r =
        pedit(json!({ "status": "pick!", "poll": { "options": ["x", "y"], "expires_in": 600 } }))
            .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["poll"]["votes_count"], 1);
    let r = pedit(json!({ "status": "pick again", "poll": { "options": ["x", "y", "z"], "expires_in": 300 } }))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["poll"]["options"].as_array().unwrap().len(), 3);
    assert_eq!(r.json["poll"]["votes_count"], 0);
    let r = t.get(&format!("/api/v1/polls/{pid}"), Some(&bob)).await;
    assert_eq!(r.json["voted"], false);
    let question = t.ap(&path_of(&p["uri"])).await;
    assert_eq!(question["oneOf"].as_array().unwrap().len(), 3, "{question}");
    // Media and a poll together: refused.
    let c = upload(&t, &alice, "d.png", &png(), &[]).await.json["id"].clone();
    let r = pedit(json!({ "status": "both", "media_ids": [c] })).await;
    assert_eq!(r.status, 422, "{}", r.text);
}

#[actix_web::test]
async fn scheduled_posts_carry_media_and_polls() {
    use guise_core::clock::Clock;
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let a = upload(&t, &alice, "a.png", &png(), &[("description", "kept")])
        .await
        .json["id"]
        .clone();
    let when = (t.clock.now() + chrono::Duration::days(4))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "later", "media_ids": [a], "scheduled_at": when }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["params"]["media_ids"], json!([a]));
    assert_eq!(r.json["media_attachments"][0]["id"], a);
    assert_eq!(r.json["media_attachments"][0]["description"], "kept");
    let sched = r.json["id"].as_str().unwrap().to_owned();
    let listed = t.get("/api/v1/scheduled_statuses", Some(&alice)).await;
    assert_eq!(listed.json[0]["media_attachments"][0]["id"], a);
    // Kept for it: not attachable elsewhere, not swept while it waits.
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "now", "media_ids": [a] }),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "vote later", "poll": { "options": ["yes", "no"], "expires_in": 3600 },
                    "scheduled_at": when }),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["params"]["poll"]["options"], json!(["yes", "no"]));
    t.clock.advance(chrono::Duration::days(3));
    assert_eq!(
        guise_server::mastodon_api::media::sweep(&t.state)
            .await
            .unwrap(),
        0
    );
    t.clock
        .advance(chrono::Duration::days(1) + chrono::Duration::minutes(1));
    let done = guise_server::jobs::run_once(&t.state).await.unwrap();
    assert_eq!(done.published, 2, "{done:?}");
    let home = t.get("/api/v1/timelines/home", Some(&alice)).await;
    let posted = home.json.as_array().unwrap();
    let with_media = posted
        .iter()
        .find(|s| s["content"] == "<p>later</p>")
        .unwrap();
    assert_eq!(with_media["media_attachments"][0]["id"], a);
    assert_eq!(with_media["media_attachments"][0]["description"], "kept");
    let with_poll = posted
        .iter()
        .find(|s| s["content"] == "<p>vote later</p>")
        .unwrap();
    // The poll runs from when the post went out.
    let ends =
        chrono::DateTime::parse_from_rfc3339(with_poll["poll"]["expires_at"].as_str().unwrap())
            .unwrap();
    let runs = (ends.with_timezone(&chrono::Utc) - t.clock.now()).num_milliseconds();
    assert!((3_599_000..=3_600_000).contains(&runs), "{runs} ms");
    let r = t
        .get(&format!("/api/v1/scheduled_statuses/{sched}"), Some(&alice))
        .await;
    assert_eq!(r.status, 404);
    // Cancelling a scheduled post gives its upload back.
    let b = upload(&t, &alice, "b.png", &png(), &[]).await.json["id"].clone();
    let when = (t.clock.now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let r = t
        .post(
            "/api/v1/statuses",
            Some(&alice),
            json!({ "status": "maybe", "media_ids": [b], "scheduled_at": when }),
        )
        .await;
    let sched = r.json["id"].as_str().unwrap().to_owned();
    let r = t
        .call(
            Method::DELETE,
            &format!("/api/v1/scheduled_statuses/{sched}"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let s = t
        .post_status(&alice, json!({ "status": "now then", "media_ids": [b] }))
        .await;
    assert_eq!(s["media_attachments"][0]["id"], b);
}

#[actix_web::test]
async fn an_anonymous_post_with_media_ties_nothing_to_the_login() {
    let t = TestApp::new().await;
    t.keep_a_key_ready().await;
    t.create_account("carol").await;
    let anon = t.token_as("carol", "anonymous", "read write").await;
    let m = upload(&t, &anon, "a.jpg", &jpeg(), &[]).await;
    assert_eq!(m.status, 200, "{}", m.text);
    let id = m.json["id"].as_str().unwrap().to_owned();
    // At rest before attaching: one row whose only owner is a tag no other
    // row holds.
    let rows = t.dump().await;
    let row = rows["media_uploads"][0].clone();
    for (table, values) in &rows {
        if table == "media_uploads" {
            continue;
        }
        for v in values {
            for cell in row.split(',').filter(|c| c.len() > 20) {
                assert!(!v.contains(cell), "{table} shares {cell} with the upload");
            }
        }
    }
    let s = t
        .post_status(
            &anon,
            json!({ "status": "anonymous, with a picture", "media_ids": [id] }),
        )
        .await;
    assert_eq!(s["media_attachments"][0]["id"], json!(id));
    assert_eq!(s["account"]["display_name"], "Anonymous");
    let r = t
        .call(
            Method::GET,
            &format!("/api/v1/media/{id}"),
            Some(&anon),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "readable through its post's anonymous face");
    t.sql("SELECT 1").await;
    let after = t.dump().await;
    let row = after["media_uploads"][0].clone();
    assert!(row.contains(&s["id"].as_str().unwrap().to_string()));
    assert!(
        !row.contains("\\x"),
        "the capability is cleared once attached: {row}"
    );
    // An anonymous token cannot set a profile picture.
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&anon),
            Some(Body::Raw(
                MULTIPART,
                multipart(&[], "avatar", "me.png", &png()),
            )),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
}

#[actix_web::test]
async fn avatars_and_headers_are_cropped_reencoded_and_removable() {
    let t = TestApp::new().await;
    let (_, alice) = t.user("alice").await;
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(Body::Raw(
                MULTIPART,
                multipart(&[("display_name", "Alice A.")], "avatar", "me.jpg", &jpeg()),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json["display_name"], "Alice A.");
    let avatar = r.json["avatar"].clone();
    assert!(
        avatar.as_str().unwrap().contains("/media/local/"),
        "{avatar}"
    );
    let file = t.get(&path_of(&avatar), None).await;
    assert_eq!(file.status, 200);
    assert_clean("avatar", &file.bytes);
    let img = image::load_from_memory(&file.bytes).unwrap();
    assert_eq!(img.width(), img.height(), "an avatar is square");
    let r = t
        .call(
            Method::PATCH,
            "/api/v1/accounts/update_credentials",
            Some(&alice),
            Some(Body::Raw(
                MULTIPART,
                multipart(&[], "header", "h.png", &png()),
            )),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["header"].as_str().unwrap().contains("/media/local/"));
    assert_eq!(r.json["avatar"], avatar, "the avatar stays");
    // The actor document shows them.
    let doc = t.ap("/users/alice").await;
    assert_eq!(doc["icon"]["url"], avatar, "{doc}");
    assert_eq!(doc["icon"]["type"], "Image");
    assert_eq!(doc["image"]["url"], r.json["header"]);
    let r = t
        .call(Method::DELETE, "/api/v1/profile/avatar", Some(&alice), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.json["avatar"]
        .as_str()
        .unwrap()
        .ends_with("/avatars/original/missing.png"));
    assert_eq!(
        t.get(&path_of(&avatar), None).await.status,
        404,
        "the old file is gone"
    );
}

#[actix_web::test]
async fn the_instance_advertises_what_it_takes() {
    let t = TestApp::new().await;
    let v2 = t.get("/api/v2/instance", None).await.json;
    let c = &v2["configuration"];
    assert_eq!(c["statuses"]["max_media_attachments"], 4);
    assert_eq!(
        c["media_attachments"]["supported_mime_types"],
        json!(["image/jpeg", "image/png", "image/gif", "image/webp"])
    );
    assert_eq!(c["media_attachments"]["image_size_limit"], 16 * 1024 * 1024);
    assert_eq!(c["media_attachments"]["video_size_limit"], 0);
}

/// `only_media` on an account's statuses and on the public timelines lists
/// the posts with attachments, newest first — not nothing.
#[actix_web::test]
async fn only_media_lists_the_posts_with_attachments() {
    let t = TestApp::new().await;
    let (alice_face, alice) = t.user("alice").await;
    let m = upload(&t, &alice, "a.png", &png(), &[]).await.json;
    let with = t
        .post_status(
            &alice,
            json!({ "status": "a picture", "media_ids": [m["id"]], "visibility": "public" }),
        )
        .await;
    let without = t
        .post_status(
            &alice,
            json!({ "status": "words only", "visibility": "public" }),
        )
        .await;
    let ids = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let both = vec![
        without["id"].as_str().unwrap().to_owned(),
        with["id"].as_str().unwrap().to_owned(),
    ];
    for (path, all) in [
        (
            format!("/api/v1/accounts/{alice_face}/statuses"),
            both.clone(),
        ),
        ("/api/v1/timelines/public".to_owned(), both.clone()),
        (
            "/api/v1/timelines/public?local=true".to_owned(),
            both.clone(),
        ),
    ] {
        assert_eq!(ids(t.get(&path, Some(&alice)).await.json), all, "{path}");
        let sep = if path.contains('?') { '&' } else { '?' };
        let media = t
            .get(&format!("{path}{sep}only_media=true"), Some(&alice))
            .await
            .json;
        assert_eq!(ids(media), [with["id"].as_str().unwrap()], "{path}");
    }
}
