//! Typed identifiers. Each aggregate has its own id type so a team id can never be passed where
//! a user id is expected. All are UUIDv7: time-ordered, so new rows append to indexes.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
            pub fn parse(s: &str) -> Option<Self> {
                Uuid::parse_str(s).ok().map(Self)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A tenant. Every other aggregate belongs to exactly one enterprise.
    EnterpriseId
);
id_type!(
    /// A person's account inside one enterprise.
    UserId
);
id_type!(
    /// A team inside one enterprise.
    TeamId
);
id_type!(
    /// A signed-in session, bound to one device record.
    SessionId
);
id_type!(
    /// A direct, group or team conversation.
    ConversationId
);
id_type!(
    /// One message in a conversation.
    MessageId
);
id_type!(
    /// A file attached to a message; also its file name on disk.
    AttachmentId
);
id_type!(
    /// A vulnerability report received by the security desk.
    ReportId
);
id_type!(
    /// One entry in a report's thread between the finder and the security team.
    ReportMessageId
);

id_type!(
    /// A message policy template of one enterprise (M2–M5).
    MessagePolicyId
);
