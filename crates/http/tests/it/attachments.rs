//! Attachments: streamed in, sealed on disk, served only to members as downloads.

use crate::messaging::pair_for_files as pair;
use crate::{req, MAX_TEST_ATTACHMENT};
use axum::body::Body;
use axum::http::{Method, StatusCode};

/// Bytes that cross several 64 KiB chunks and are not all alike.
fn sample(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn files(app: &crate::TestApp) -> Vec<String> {
    match std::fs::read_dir(app._dir.path().join("files")) {
        Ok(entries) => entries.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn a_member_uploads_and_another_member_downloads_the_same_bytes() {
    let p = pair().await;
    let bytes = sample(200_000);
    let path = format!(
        "/api/v1/conversations/{}/attachments?name=report%20%C3%A9t%C3%A9.pdf&caption=the%20numbers",
        p.conversation
    );
    let r = req(Method::POST, &path).bearer(&p.a).raw("application/pdf", bytes.clone()).send(&p.app).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let message = r.json();
    assert_eq!(message["body"], "the numbers");
    assert_eq!(message["attachment"]["name"], "report été.pdf");
    assert_eq!(message["attachment"]["size"], 200_000);
    assert_eq!(message["attachment"]["content_type"], "application/pdf");
    let id = message["attachment"]["id"].as_str().unwrap();

    let on_disk = std::fs::read(p.app._dir.path().join("files").join(id)).unwrap();
    assert!(!on_disk.windows(64).any(|w| w == &bytes[1000..1064]), "the file is stored sealed");

    let download = format!("/api/v1/conversations/{}/attachments/{id}", p.conversation);
    let r = req(Method::GET, &download).bearer(&p.b).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, bytes);
    assert_eq!(r.header("content-type"), "application/pdf");
    assert!(
        r.header("content-disposition")
            .starts_with("attachment; filename=\"report _t_.pdf\"; filename*=UTF-8''report%20%C3%A9t%C3%A9.pdf"),
        "{}",
        r.header("content-disposition")
    );
    assert_eq!(r.header("x-content-type-options"), "nosniff");
    assert!(r.header("content-security-policy").contains("sandbox"));

    req(Method::GET, &download).bearer(&p.c).send(&p.app).await.problem(404, "not-found");
}

#[tokio::test]
async fn refused_and_aborted_uploads_leave_no_file_and_no_message() {
    let p = pair().await;
    let base = format!("/api/v1/conversations/{}/attachments", p.conversation);
    let too_big = sample(MAX_TEST_ATTACHMENT as usize + 1);
    req(Method::POST, &format!("{base}?name=big.bin"))
        .bearer(&p.a)
        .raw("application/octet-stream", too_big)
        .send(&p.app)
        .await
        .problem(413, "payload-too-large");
    req(Method::POST, &format!("{base}?name=x.bin"))
        .bearer(&p.c)
        .raw("application/octet-stream", sample(10))
        .send(&p.app)
        .await
        .problem(404, "not-found");
    let r = req(Method::POST, &format!("{base}?name=%2F"))
        .bearer(&p.a)
        .raw("application/octet-stream", sample(10))
        .send(&p.app)
        .await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "name");
    let r =
        req(Method::POST, &format!("{base}?name=a.txt")).bearer(&p.a).raw("not a type", sample(10)).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "content_type");
    req(Method::POST, &base)
        .bearer(&p.a)
        .raw("text/plain", sample(10))
        .send(&p.app)
        .await
        .problem(422, "invalid-field");

    let pieces: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(sample(100_000)), Err(std::io::Error::other("connection reset"))];
    let aborted = Body::from_stream(futures_util::stream::iter(pieces));
    let r = req(Method::POST, &format!("{base}?name=half.bin"))
        .bearer(&p.a)
        .stream("application/octet-stream", aborted)
        .send(&p.app)
        .await;
    assert!(r.status.is_client_error(), "{}", r.status);

    assert!(files(&p.app).is_empty(), "no file or partial file left: {:?}", files(&p.app));

    // The client goes away mid-upload (HTTP/2 cancels the stream): the request future is
    // dropped without reaching any error path, and still nothing stays.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Result<Vec<u8>, std::io::Error>>();
    tx.send(Ok(sample(100_000))).unwrap();
    let hanging =
        Body::from_stream(futures_util::stream::unfold(
            rx,
            |mut rx| async move { rx.recv().await.map(|item| (item, rx)) },
        ));
    let upload =
        req(Method::POST, &format!("{base}?name=gone.bin")).bearer(&p.a).stream("application/octet-stream", hanging);
    let cut = tokio::time::timeout(std::time::Duration::from_millis(500), upload.send(&p.app)).await;
    assert!(cut.is_err(), "the upload was still waiting for bytes");
    drop(tx);
    assert!(files(&p.app).is_empty(), "a dropped upload leaves no file: {:?}", files(&p.app));

    let history = req(Method::GET, &format!("/api/v1/conversations/{}/messages", p.conversation))
        .bearer(&p.a)
        .send(&p.app)
        .await
        .json();
    assert!(history.as_array().unwrap().is_empty(), "no message row");
}

#[tokio::test]
async fn deleting_the_message_destroys_the_file() {
    let p = pair().await;
    let r = req(Method::POST, &format!("/api/v1/conversations/{}/attachments?name=a.txt", p.conversation))
        .bearer(&p.a)
        .raw("text/plain", b"secret".to_vec())
        .send(&p.app)
        .await;
    let message = r.json();
    assert_eq!(files(&p.app).len(), 1);
    let m = message["id"].as_str().unwrap();
    let deleted = req(Method::DELETE, &format!("/api/v1/conversations/{}/messages/{m}", p.conversation))
        .bearer(&p.a)
        .send(&p.app)
        .await
        .json();
    assert!(deleted["attachment"].is_null());
    assert!(files(&p.app).is_empty());
    let id = message["attachment"]["id"].as_str().unwrap();
    req(Method::GET, &format!("/api/v1/conversations/{}/attachments/{id}", p.conversation))
        .bearer(&p.a)
        .send(&p.app)
        .await
        .problem(404, "not-found");
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let picture =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x / 160 * 30) as u8, (y / 120 * 30) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn images_get_a_sealed_preview_that_members_see_and_other_files_do_not() {
    let p = pair().await;
    let base = format!("/api/v1/conversations/{}/attachments", p.conversation);
    let original = png(1280, 960);
    let r = req(Method::POST, &format!("{base}?name=site.png"))
        .bearer(&p.a)
        .raw("image/png", original.clone())
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    let attachment = r.json()["attachment"].clone();
    assert_eq!(attachment["thumbnail"], serde_json::json!({ "width": 640, "height": 480 }));
    let id = attachment["id"].as_str().unwrap().to_owned();
    assert_eq!(files(&p.app).len(), 2, "the file and its preview");

    let thumb = format!("{base}/{id}/thumbnail");
    let r = req(Method::GET, &thumb).bearer(&p.b).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("content-type"), "image/png");
    assert_eq!(r.header("cache-control"), "private, no-store");
    let drawn = image::load_from_memory(&r.body).unwrap();
    assert_eq!((drawn.width(), drawn.height()), (640, 480));
    for name in files(&p.app) {
        let on_disk = std::fs::read(p.app._dir.path().join("files").join(name)).unwrap();
        assert!(!on_disk.windows(8).any(|w| w == b"\x89PNG\r\n\x1a\n"), "previews are sealed too");
    }
    req(Method::GET, &thumb).bearer(&p.c).send(&p.app).await.problem(404, "not-found");

    // A file that only claims to be an image is kept, without a preview.
    let r = req(Method::POST, &format!("{base}?name=fake.png"))
        .bearer(&p.a)
        .raw("image/png", sample(3000))
        .send(&p.app)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text());
    assert!(r.json()["attachment"]["thumbnail"].is_null());
    let fake = r.json()["attachment"]["id"].as_str().unwrap().to_owned();
    let r = req(Method::GET, &format!("{base}/{fake}/thumbnail")).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.problem(422, "invalid-field")["field"], "attachment_id");
    let r = req(Method::POST, &format!("{base}?name=notes.pdf"))
        .bearer(&p.a)
        .raw("application/pdf", sample(3000))
        .send(&p.app)
        .await;
    let pdf = r.json()["attachment"]["id"].as_str().unwrap().to_owned();
    let r = req(Method::GET, &format!("{base}/{pdf}/thumbnail")).bearer(&p.a).send(&p.app).await;
    assert!(r.problem(422, "invalid-field")["detail"].as_str().unwrap().contains("PNG and JPEG"));

    // Deleting the message takes the preview with the file.
    let before = files(&p.app).len();
    let r =
        req(Method::GET, &format!("/api/v1/conversations/{}/messages", p.conversation)).bearer(&p.a).send(&p.app).await;
    let message =
        r.json().as_array().unwrap().iter().find(|m| m["attachment"]["id"] == id.as_str()).unwrap()["id"].clone();
    let path = format!("/api/v1/conversations/{}/messages/{}", p.conversation, message.as_str().unwrap());
    let r = req(Method::DELETE, &path).bearer(&p.a).send(&p.app).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(files(&p.app).len(), before - 2);
    req(Method::GET, &thumb).bearer(&p.a).send(&p.app).await.problem(404, "not-found");
}
