//! Key records to the wire's key metadata.

use keywarden_api_types::keys::{IssuedKeyBody, KeyMetadata};
use keywarden_core::key_format::KeyKind;
use keywarden_core::key_record::KeyRecord;
use keywarden_core::scope::Catalog;
use keywarden_core::service::IssuedKey;
use time::OffsetDateTime;

/// What is shown about a key at `now`.
pub fn metadata(
    record: &KeyRecord,
    catalog: &Catalog,
    now: OffsetDateTime,
    rotation_period_days: u32,
) -> KeyMetadata {
    let scopes = match record.kind {
        KeyKind::Standard => catalog.names(catalog.all()),
        KeyKind::Restricted => record.scopes.clone(),
    };
    KeyMetadata {
        id: record.id.to_string(),
        kind: record.kind.as_str().into(),
        mode: record.mode.as_str().into(),
        label: record.label.clone(),
        hint: record.hint.clone(),
        scopes,
        status: record.status_at(now).as_str().into(),
        created_at: record.created_at,
        created_by: record.created_by.map(|u| u.to_string()),
        expires_at: record.expires_at,
        last_used_at: record.last_used_at,
        rotated_at: record.rotated_at,
        revoked_at: record.revoked_at,
        grace_until: record.grace_until,
        rotation_due: record.rotation_due(now, rotation_period_days),
    }
}

/// A new key with its secret, for the one response that shows it.
pub fn issued(
    issued: &IssuedKey,
    catalog: &Catalog,
    now: OffsetDateTime,
    rotation_period_days: u32,
) -> IssuedKeyBody {
    IssuedKeyBody {
        key: issued.secret.expose().to_owned(),
        metadata: metadata(&issued.record, catalog, now, rotation_period_days),
    }
}
