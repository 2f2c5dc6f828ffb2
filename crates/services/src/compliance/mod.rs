//! Compliance: reading and verifying the audit trail (then: reports, SIEM export, retention).

pub mod audit;

pub use audit::Compliance;
