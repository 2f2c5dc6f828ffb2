//! `search`: finding messages by their words in encrypted history, on SQLite and on PostgreSQL.
//!
//! A conversation is filled through the messaging service (sealing, blind word tokens, the store,
//! the live event), from a vocabulary of 20,000 made-up words drawn with a Zipf-like skew, so a
//! few words are common and most are rare, as in real chat. Then four kinds of query run many
//! times each (a rare word, two words together, a common word, a quoted phrase, two words that
//! are common but never in one message, so every message holding one is looked at), timed end to end
//! through the service (tokens, the SQL, opening each hit); the baseline is a history page (the
//! newest 50 messages) timed in the same run. A second measurement sends messages straight to the
//! store with and without their tokens, in alternating rounds, for what the index costs a send.

use domain::audit::Origin;
use domain::Roles;
use serde_json::json;
use services::messaging::search::SearchQuery;
use services::{Caller, KeyringSource, Services, Settings};
use std::sync::Arc;
use std::time::Instant;

const VOCABULARY: usize = 20_000;
/// Conversations filled at once.
const FILLERS: usize = 4;
const PASSWORD: &str = "violet tangerine harbour lantern";

/// A small deterministic generator (xorshift), so every run searches the same history.
struct Words(u64);

impl Words {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A word index with a Zipf-like skew: index i is drawn about 1/(i+1) as often as the first.
    fn word(&mut self) -> usize {
        let u = (self.next() % 1_000_000) as f64 / 1_000_000.0;
        ((VOCABULARY as f64 + 1.0).powf(u) - 1.0) as usize % VOCABULARY
    }

    fn body(&mut self, n: usize) -> String {
        let count = 6 + (self.next() % 10) as usize;
        let mut words: Vec<String> = (0..count).map(|_| word_text(self.word())).collect();
        // A rare word, planted in one message in a hundred thousand, and a fixed phrase now and then.
        if n % 100_000 == 7 {
            words.push("quillon".into());
        }
        if n % 1_000 == 3 {
            words.extend(["brass".into(), "orrery".into()]);
        }
        // Two words of one message in forty each that never meet: a search for both finds
        // nothing and must look at every message holding the rarer, the slowest kind of query.
        match n % 40 {
            1 => words.push("ferrule".into()),
            21 => words.push("gimbal".into()),
            _ => {}
        }
        words.join(" ")
    }
}

fn word_text(i: usize) -> String {
    // Pronounceable made-up words: "ka", "kobe", "mizura", ...
    const SYLLABLES: [&str; 16] =
        ["ka", "ro", "mi", "zu", "be", "te", "no", "la", "shi", "po", "ve", "da", "gu", "fe", "yo", "ri"];
    let mut out = String::new();
    let mut n = i + 16;
    while n > 0 {
        out.push_str(SYLLABLES[n % 16]);
        n /= 16;
    }
    out
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn timings(mut ms: Vec<f64>) -> serde_json::Value {
    ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    json!({ "p50_ms": percentile(&ms, 0.5), "p99_ms": percentile(&ms, 0.99), "runs": ms.len() })
}

pub fn run(messages: usize, postgres_url: Option<String>, sqlite: bool) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        if sqlite {
            let sqlite: Arc<dyn store::Store> =
                Arc::new(store_sqlite::open(&dir.path().join("search.db")).await.unwrap());
            one_backend("sqlite", sqlite, messages, None).await;
        }
        if let Some(url) = postgres_url {
            let schema = format!("bench_search_{}", uuid::Uuid::new_v4().simple());
            match store_postgres::connect_in_schema(&url, Some(&schema)).await {
                Ok(pg) => {
                    let pg: Arc<dyn store::Store> = Arc::new(pg);
                    one_backend("postgres", pg, messages, Some((url.as_str(), schema.as_str()))).await;
                }
                Err(e) => eprintln!("search: PostgreSQL at {url} is not reachable ({e}); measured SQLite only"),
            }
            drop_schema(&url, &schema).await;
        }
    });
}

async fn drop_schema(url: &str, schema: &str) {
    use sqlx::Connection as _;
    if let Ok(mut c) = sqlx::PgConnection::connect(url).await {
        let _ = sqlx::raw_sql(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).execute(&mut c).await;
    }
}

/// `postgres`: the URL and schema, to refresh the planner's statistics and the visibility map
/// after the fill, as autovacuum does on a running server (the word table asks for it after every
/// 1% of new rows).
async fn one_backend(backend: &str, store: Arc<dyn store::Store>, messages: usize, postgres: Option<(&str, &str)>) {
    let settings = Settings { public_url: "https://bench.example".into(), ..Settings::default() };
    let ring = Arc::new(crypto::MasterKeyring::generate());
    let services =
        Services::build(store.clone(), Arc::new(bus::InProcessBus::default()), KeyringSource::Fixed(ring), settings)
            .await
            .unwrap();
    let origin = Origin::default();
    let e = services.directory.create_enterprise(&Caller::Operator, &origin, "Bench").await.unwrap().id;
    let mut ids = Vec::new();
    let emails: Vec<String> = (0..=FILLERS).map(|i| format!("person{i}@bench.example")).collect();
    for email in &emails {
        let new = services::directory::NewUser {
            email: email.clone(),
            name: email.clone(),
            roles: Roles::MEMBER,
            via: None,
            password: Some(PASSWORD.into()),
        };
        ids.push(services.directory.create_user(&Caller::Operator, &origin, e, new).await.unwrap().id);
    }
    let ada = services.sessions.sign_in(&origin, &emails[0], PASSWORD).await.unwrap().principal;
    let mut conversations = Vec::new();
    for other in &ids[1..] {
        conversations.push(services.messaging.open_direct(&ada, &origin, *other).await.unwrap().id);
    }
    let conversation = conversations[0];

    // Ada writes in several conversations at once, one sender each, so the service's work
    // (sealing, tokens) overlaps the store's; message n goes to conversation n % FILLERS and
    // every one is found by the same searches.
    let services = Arc::new(services);
    let started = Instant::now();
    let mut fillers = Vec::new();
    for (lane, conversation) in conversations.iter().copied().enumerate() {
        let (services, ada, backend) = (services.clone(), ada.clone(), backend.to_owned());
        fillers.push(tokio::spawn(async move {
            let mut words = Words(0x9e37_79b9_7f4a_7c15 + lane as u64);
            for n in (lane..messages).step_by(FILLERS) {
                services.messaging.send_message(&ada, conversation, &words.body(n)).await.unwrap();
                if lane == 0 && n > 0 && n % 100_000 < FILLERS {
                    eprintln!("search ({backend}): {n} messages in {:.0} s", started.elapsed().as_secs_f64());
                }
            }
        }));
    }
    for filler in fillers {
        filler.await.unwrap();
    }
    let fill_s = started.elapsed().as_secs_f64();
    if let Some((url, schema)) = postgres {
        use sqlx::Connection as _;
        let mut c = sqlx::PgConnection::connect(url).await.unwrap();
        // Two statements: VACUUM refuses to run inside the transaction a statement list makes.
        sqlx::raw_sql(&format!("SET search_path TO {schema}")).execute(&mut c).await.unwrap();
        sqlx::raw_sql("VACUUM ANALYZE").execute(&mut c).await.unwrap();
    }

    let mut history = Vec::new();
    for _ in 0..200 {
        let t = Instant::now();
        services.messaging.list_messages(&ada, conversation, None, None, 50).await.unwrap();
        history.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    let common = word_text(0);
    let (mid_a, mid_b) = (word_text(40), word_text(41));
    let queries = [
        ("rare_word", "quillon".to_owned()),
        ("two_words", format!("{mid_a} {mid_b}")),
        ("common_word", common),
        ("phrase", "\"brass orrery\"".to_owned()),
        ("two_words_never_together", "ferrule gimbal".to_owned()),
    ];
    let mut results = serde_json::Map::new();
    for (name, q) in &queries {
        let query = SearchQuery { q: q.clone(), ..SearchQuery::default() };
        let mut ms = Vec::new();
        let mut hits = 0;
        for _ in 0..200 {
            let t = Instant::now();
            hits = services.messaging.search(&ada, &query).await.unwrap().len();
            ms.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        let mut entry = timings(ms);
        entry["hits"] = json!(hits);
        results.insert((*name).to_owned(), entry);
    }
    println!(
        "{}",
        json!({
            "bench": "search",
            "backend": backend,
            "messages": messages,
            "fill_messages_per_s": messages as f64 / fill_s,
            "queries": results,
            "baseline": "history_page_newest_50",
            "baseline_timing": timings(history),
        })
    );
    index_cost(backend, &store, e, ids[0], conversation).await;
}

/// What the word tokens cost a send: the same messages appended with and without them.
async fn index_cost(
    backend: &str,
    store: &Arc<dyn store::Store>,
    e: domain::EnterpriseId,
    sender: domain::UserId,
    conversation: domain::ConversationId,
) {
    let mut words = Words(7);
    let index = crypto::blind_index::BlindIndexKey::from_data_key(&crypto::DataKey::generate());
    let mut with = Vec::new();
    let mut without = Vec::new();
    for round in 0..10 {
        for indexed in [round % 2 == 0, round % 2 == 1] {
            let t = Instant::now();
            for n in 0..500 {
                let body = words.body(n);
                // The tokens a send stores (equal words, equal tokens), under a key of this run.
                let tokens: Vec<Vec<u8>> = if indexed {
                    domain::messaging::search_words(&body)
                        .iter()
                        .map(|w| index.compute("message-word", w)[..16].to_vec())
                        .collect()
                } else {
                    Vec::new()
                };
                let row = store::MessageRow {
                    id: domain::MessageId::new(),
                    conversation_id: conversation,
                    seq: 0,
                    sender_id: sender,
                    body_ct: Some(vec![0x5a; body.len() + 28]),
                    created_at: domain::Millis::now(),
                    edited_at: None,
                    deleted_at: None,
                    attachment: None,
                    thread_root_id: None,
                    control: None,
                    forward: None,
                    removed: None,
                };
                store
                    .append_message(e, &row, &store::MessageIndex { words: &tokens, ..Default::default() })
                    .await
                    .unwrap();
            }
            let us = t.elapsed().as_secs_f64() * 1e6 / 500.0;
            if indexed {
                with.push(us)
            } else {
                without.push(us)
            }
        }
    }
    let (w, wo) = (crate::median(with), crate::median(without));
    println!(
        "{}",
        json!({
            "bench": "search_index_cost",
            "backend": backend,
            "us_per_append_with_tokens": w,
            "baseline": "append_without_tokens",
            "baseline_us": wo,
            "ratio": w / wo,
        })
    );
}
