//! Search over encrypted messages. The server never stores a message's words: it stores keyed
//! blind tokens (HMAC-SHA256 under a key derived from the enterprise's data key, one per distinct
//! normalised word), and a query is turned into the same tokens. Results are limited to the
//! conversations the person is a member of now; a quoted phrase is then checked against the
//! decrypted text. Deleting or editing a message replaces its tokens in the same step.
//!
//! What the tokens reveal to someone holding the database alone: which messages share a word,
//! never which word it is (the key is sealed under the master key).

use super::{open_message, Messaging};
use crate::{Error, Principal, Result};
use crypto::blind_index::BlindIndexKey;
use crypto::DataKey;
use domain::messaging::{search_words, MAX_QUERY_CHARS};
use domain::{ConversationId, FieldError, Millis, Rule, UserId};
use serde::Serialize;
use utoipa::ToSchema;

/// Most results one search returns.
pub const MAX_RESULTS: u32 = 50;

/// The blind tokens of a text's words, under the enterprise's key.
/// What a new or edited message is found by: its words' tokens, unless its rules gate reading
/// (then none: a search hit would tell its words to readers the rules keep out).
pub(crate) fn index_tokens(key: &DataKey, text: &str, rules: Option<&domain::message_policy::Rules>) -> Vec<Vec<u8>> {
    if rules.is_some_and(domain::message_policy::Rules::gates_reading) {
        return Vec::new();
    }
    tokens(key, text)
}

pub(crate) fn tokens(key: &DataKey, text: &str) -> Vec<Vec<u8>> {
    let index = BlindIndexKey::from_data_key(key);
    search_words(text).iter().map(|w| index.compute("message-word", w)[..16].to_vec()).collect()
}

/// A search, as the query string gives it.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub q: String,
    pub conversation: Option<ConversationId>,
    pub from: Option<UserId>,
    pub before: Option<Millis>,
    pub after: Option<Millis>,
    pub has_file: bool,
}

#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SearchHit {
    pub message: crate::protocol::MessageView,
    /// The conversation's title (groups and team channels); direct conversations have none.
    pub conversation_title: Option<String>,
    #[schema(value_type = String)]
    pub conversation_kind: domain::messaging::ConversationKind,
}

impl Messaging {
    pub async fn search(&self, p: &Principal, query: &SearchQuery) -> Result<Vec<SearchHit>> {
        let q = query.q.trim();
        if q.is_empty() {
            return Err(Error::Invalid(FieldError::new("q", Rule::Empty, "must name at least one word to find")));
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::Invalid(FieldError::new(
                "q",
                Rule::TooLong,
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            )));
        }
        let words = search_words(q);
        if words.is_empty() {
            return Err(Error::Invalid(FieldError::new(
                "q",
                Rule::InvalidValue,
                "must contain a word of two letters or digits or more",
            )));
        }
        if let (Some(before), Some(after)) = (query.before, query.after) {
            if before <= after {
                return Err(Error::Invalid(FieldError::new("before", Rule::InvalidValue, "must be later than after")));
            }
        }
        // Phrases in quotes must appear as written (after the same normalisation).
        let phrases: Vec<String> = q
            .split('"')
            .skip(1)
            .step_by(2)
            .map(|ph| search_words(ph).join(" "))
            .filter(|ph| ph.contains(' '))
            .collect();
        let key = self.core.keys.enterprise_key(p.enterprise_id).await?;
        let filter = store::SearchFilter {
            conversation: query.conversation,
            sender: query.from,
            before: query.before,
            after: query.after,
            has_file: query.has_file,
        };
        let rows = self
            .conversation_store
            .search_messages(p.enterprise_id, p.user_id, &tokens(&key, q), &filter, MAX_RESULTS * 2)
            .await?;
        let mut titles = std::collections::HashMap::new();
        for (c, _) in self.conversation_store.list_conversations(p.enterprise_id, p.user_id).await? {
            titles.insert(c.id, c);
        }
        let facts = self.page_facts(p, &rows).await?;
        let now = domain::Millis::now();
        let mut hits = Vec::new();
        for row in rows {
            // The same policy check as history: a hit never shows what its reader may not read.
            let Some(message) = self.present(p, &row, open_message(&key, &row)?, &facts, now)? else { continue };
            if message.control.as_ref().is_some_and(|c| c.state != "readable") {
                continue;
            }
            let text =
                [message.body.as_deref().unwrap_or(""), message.attachment.as_ref().map_or("", |a| a.name.as_str())]
                    .join(" ");
            let normalised = search_words_in_order(&text);
            if !phrases.iter().all(|ph| normalised.contains(ph.as_str())) {
                continue;
            }
            let Some(conversation) = titles.get(&row.conversation_id) else { continue };
            let title = conversation
                .title_ct
                .as_ref()
                .map(|ct| {
                    key.open_str(
                        ct,
                        crypto::Aad { table: "conversations", row: &conversation.id.to_string(), column: "title" },
                    )
                })
                .transpose()?;
            hits.push(SearchHit { message, conversation_title: title, conversation_kind: conversation.kind });
            if hits.len() == MAX_RESULTS as usize {
                break;
            }
        }
        Ok(hits)
    }
}

/// Every word of a text, normalised, repeats kept: what a phrase is matched against.
fn search_words_in_order(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}
