//! The body of a delivery (SPEC §7):
//!
//! ```json
//! {"type": "key.revoked", "timestamp": "2026-06-01T12:00:00Z",
//!  "data": {"account_id": "…", "key": {…}, "actor": {"type": "user", "id": "…", "email": "…"},
//!           "detail": "…"}}
//! ```
//!
//! `timestamp` is when the event happened (the same on every attempt); `key` is the key the
//! event is about as it stands when the delivery is sent, in exactly the shape the API shows
//! it (§4's key metadata, built by the API's own conversion), so it never holds a secret. An
//! event about no key (`webhook.test`, user and account events) has no `key`.

use crate::routes::metadata::metadata;
use keywarden_api_types::keys::KeyMetadata;
use keywarden_core::audit::{Actor, AuditEvent};
use keywarden_core::key_record::KeyRecord;
use keywarden_core::scope::Catalog;
use keywarden_core::webhook::EventType;
use serde::Serialize;
use time::OffsetDateTime;

/// A delivery's JSON body.
#[derive(Debug, Serialize)]
pub struct Body<'a> {
    /// The event type.
    #[serde(rename = "type")]
    pub event_type: &'static str,
    /// When the event happened.
    #[serde(with = "time::serde::rfc3339")]
    pub timestamp: OffsetDateTime,
    /// What happened.
    pub data: Data<'a>,
}

/// The `data` member.
#[derive(Debug, Serialize)]
pub struct Data<'a> {
    /// The account the event belongs to.
    pub account_id: String,
    /// The key the event is about, as it is now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<KeyMetadata>,
    /// Who caused it.
    pub actor: ActorView<'a>,
    /// The audit trail's description of it.
    pub detail: &'a str,
}

/// Who caused an event: `user` (with id and email), `cli` (the operator) or `system`
/// (scheduled events).
#[derive(Debug, Serialize)]
pub struct ActorView<'a> {
    /// `user`, `cli` or `system`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The user's email.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<&'a str>,
}

impl<'a> ActorView<'a> {
    /// The wire form of an audit actor (no address or user agent: those stay in the audit).
    pub fn of(actor: &'a Actor) -> Self {
        let user = actor.user_id;
        Self {
            kind: actor.kind(),
            id: user.map(|u| u.to_string()),
            email: user.map(|_| actor.label.as_str()),
        }
    }
}

/// The key of an event, with what showing it needs.
#[derive(Debug, Clone)]
pub struct KeyView<'a> {
    /// The key as it is now.
    pub record: &'a KeyRecord,
    /// Its account's rotation period, in days.
    pub rotation_period_days: u32,
    /// Its creator's email, if they are still a member of the account.
    pub creator_email: Option<String>,
}

/// The body of `event` (of type `event_type`) at `now`, serialised.
pub fn render(
    event_type: EventType,
    event: &AuditEvent,
    key: Option<KeyView<'_>>,
    catalog: &Catalog,
    now: OffsetDateTime,
) -> Result<Vec<u8>, serde_json::Error> {
    // A test event says only that the endpoint is reached.
    let key = key
        .filter(|_| event_type != EventType::WebhookTest)
        .map(|k| {
            metadata(
                k.record,
                catalog,
                now,
                k.rotation_period_days,
                k.creator_email,
            )
        });
    let body = Body {
        event_type: event_type.as_str(),
        timestamp: event.at,
        data: Data {
            account_id: event.account_id.to_string(),
            key,
            actor: ActorView::of(&event.actor),
            detail: &event.detail,
        },
    };
    serde_json::to_vec(&body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use keywarden_core::audit::Action;
    use keywarden_core::digest::KeyDigest;
    use keywarden_core::ids::{AccountId, EventId, KeyId, UserId};
    use keywarden_core::key_format::{KeyKind, Mode};
    use keywarden_core::key_record::Lifecycle;
    use serde_json::{Value, json};
    use time::macros::datetime;

    fn event(action: Action, actor: Actor, key_id: Option<KeyId>) -> AuditEvent {
        let at = datetime!(2026-06-01 12:00 UTC);
        AuditEvent {
            id: EventId::new_at(at),
            account_id: AccountId::new_at(at),
            action,
            actor,
            key_id,
            detail: "revoked key rk_live_abcd…wxyz".into(),
            at,
        }
    }

    fn record(at: OffsetDateTime) -> KeyRecord {
        KeyRecord {
            id: KeyId::new_at(at),
            account_id: AccountId::new_at(at),
            kind: KeyKind::Restricted,
            mode: Mode::Live,
            label: "payroll sync".into(),
            hint: "rk_live_abcd…wxyz".into(),
            digest: KeyDigest([0; 32]),
            scopes: vec!["payroll:read".into()],
            lifecycle: Lifecycle::Revoked,
            created_at: at,
            created_by: None,
            expires_at: None,
            rotated_at: None,
            revoked_at: Some(at),
            grace_until: None,
            replaced_by: None,
            replaces: None,
            last_used_at: None,
            change_seq: 0,
            policy: Default::default(),
            leak: None,
        }
    }

    #[test]
    fn a_key_event_carries_the_key_as_the_api_shows_it_and_its_actor() {
        let at = datetime!(2026-06-01 12:00 UTC);
        let key = record(at);
        let user = UserId::new_at(at);
        let actor = Actor {
            user_id: Some(user),
            label: "admin@acme.test".into(),
            ip: Some("10.0.0.1".into()),
            user_agent: Some("curl".into()),
        };
        let e = event(Action::KeyRevoked, actor, Some(key.id));
        let bytes = render(
            EventType::KeyRevoked,
            &e,
            Some(KeyView {
                record: &key,
                rotation_period_days: 90,
                creator_email: Some("ada@acme.test".into()),
            }),
            &Catalog::default(),
            at,
        )
        .unwrap();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(body["type"], "key.revoked");
        assert_eq!(body["timestamp"], "2026-06-01T12:00:00Z");
        assert_eq!(body["data"]["account_id"], e.account_id.to_string());
        assert_eq!(
            body["data"]["actor"],
            json!({"type": "user", "id": user.to_string(), "email": "admin@acme.test"})
        );
        let expected = serde_json::to_value(metadata(
            &key,
            &Catalog::default(),
            at,
            90,
            Some("ada@acme.test".into()),
        ))
        .unwrap();
        assert_eq!(body["data"]["key"], expected);
        assert_eq!(body["data"]["key"]["created_by_email"], "ada@acme.test");
        assert_eq!(body["data"]["key"]["status"], "revoked");
        assert_eq!(body["data"]["detail"], "revoked key rk_live_abcd…wxyz");
        let text = String::from_utf8(bytes).unwrap();
        assert!(
            !text.contains("digest") && !text.contains("10.0.0.1"),
            "{text}"
        );
    }

    #[test]
    fn system_and_cli_actors_name_no_one_and_a_test_event_has_no_key() {
        let at = datetime!(2026-06-01 12:00 UTC);
        let key = record(at);
        let e = event(Action::KeyExpired, Actor::system(), Some(key.id));
        let view = KeyView {
            record: &key,
            rotation_period_days: 90,
            creator_email: None,
        };
        let body: Value = serde_json::from_slice(
            &render(
                EventType::KeyExpired,
                &e,
                Some(view.clone()),
                &Catalog::default(),
                at,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(body["data"]["actor"], json!({"type": "system"}));
        let e = event(Action::WebhookTestSent, Actor::cli(), None);
        let body: Value = serde_json::from_slice(
            &render(
                EventType::WebhookTest,
                &e,
                Some(view),
                &Catalog::default(),
                at,
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(body["type"], "webhook.test");
        assert_eq!(body["data"]["actor"], json!({"type": "cli"}));
        let data = body["data"].as_object().unwrap();
        let fields: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(fields, vec!["account_id", "actor", "detail"]);
    }
}
