//! Webhook endpoints (SPEC §7), the admin side: add, change, rotate the signing secret of and
//! remove an account's endpoints, send one a test event, read its delivery log and retry a
//! delivery. Each change writes its audit event in the same transaction.
//!
//! The URL is checked by the caller (its shape, and whether its host may be called: that needs
//! DNS, which the domain does not do). Audit details name an endpoint by id and host only: a
//! receiver's URL may carry a token in its path or query, and the audit trail holds no secret.

use super::{AccountService, conflict_as};
use crate::audit::{Action, Actor};
use crate::error::DomainError;
use crate::ids::{AccountId, DeliveryId, EndpointId};
use crate::store::{Delivery, EndpointUpdate, LoggedAttempt, StoreError};
use crate::webhook::signing::SecretSeal;
use crate::webhook::{Endpoint, EndpointSecret, EndpointState, Subscription};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

/// Longest description of an endpoint.
pub const MAX_DESCRIPTION_LEN: usize = 200;
/// How long the secret before a rotation still signs deliveries (SPEC §7: 24 hours).
pub const SECRET_OVERLAP: Duration = Duration::hours(24);
/// Largest page of a delivery log.
pub const MAX_ATTEMPT_PAGE: u32 = 100;

/// An endpoint to add.
#[derive(Clone, Debug)]
pub struct NewEndpoint {
    /// Where deliveries go, already checked by the caller.
    pub url: String,
    /// What it is for (at most 200 characters; may be empty).
    pub description: String,
    /// Event type names, or `["*"]` for every type.
    pub events: Vec<String>,
}

/// Changes to an endpoint; `None` leaves a field alone.
#[derive(Clone, Debug, Default)]
pub struct EndpointChanges {
    /// New URL, already checked by the caller.
    pub url: Option<String>,
    /// New description.
    pub description: Option<String>,
    /// New event type names, or `["*"]`.
    pub events: Option<Vec<String>>,
    /// `Active` or `Disabled`; `Failing` is set by delivery, not by an admin.
    pub state: Option<EndpointState>,
}

/// An endpoint just added, with its signing secret: shown this once.
#[derive(Debug)]
pub struct AddedEndpoint {
    /// What is stored.
    pub endpoint: Endpoint,
    /// The secret (`reveal()` gives its `whsec_…` text).
    pub secret: EndpointSecret,
}

/// A rotation of an endpoint's signing secret just made.
#[derive(Debug)]
pub struct RotatedEndpointSecret {
    /// The endpoint as now stored.
    pub endpoint: Endpoint,
    /// The new secret, shown this once.
    pub secret: EndpointSecret,
    /// Until when deliveries are also signed with the previous secret.
    pub previous_valid_until: OffsetDateTime,
}

impl AccountService {
    /// What seals and opens endpoint secrets (the delivery side opens them to sign).
    pub fn webhook_seal(&self) -> &SecretSeal {
        &self.webhook_seal
    }

    /// Adds an endpoint, active, with a new signing secret, which is returned once.
    pub async fn add_endpoint(
        &self,
        account_id: AccountId,
        new: NewEndpoint,
        actor: &Actor,
    ) -> Result<AddedEndpoint, DomainError> {
        let description = valid_description(&new.description)?;
        let events = valid_events(&new.events)?;
        let url = valid_url(&new.url)?;
        let secret = EndpointSecret::generate(self.random.as_ref())?;
        let sealed_secret = self.webhook_seal.seal(&secret, self.random.as_ref())?;
        let now = self.clock.now();
        let endpoint = Endpoint {
            id: EndpointId::new_at(now),
            account_id,
            url,
            description,
            events,
            state: EndpointState::Active,
            sealed_secret,
            previous_secret: None,
            created_at: now,
            updated_at: now,
        };
        let detail = format!(
            "added webhook endpoint {} ({}) for {}",
            endpoint.id,
            host_of(&endpoint.url),
            endpoint.events.names().join(", ")
        );
        let event = self.event(
            account_id,
            Action::WebhookEndpointAdded,
            actor,
            None,
            detail,
            now,
        );
        self.store
            .insert_endpoint(&endpoint, &event)
            .await
            .map_err(|e| conflict_as(e, "an endpoint with this id exists; try again"))?;
        Ok(AddedEndpoint { endpoint, secret })
    }

    /// The account's endpoints, oldest first.
    pub async fn endpoints(&self, account_id: AccountId) -> Result<Vec<Endpoint>, DomainError> {
        Ok(self.store.endpoints_of_account(account_id).await?)
    }

    /// One endpoint of the account (another account's is "not found").
    pub async fn endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
    ) -> Result<Endpoint, DomainError> {
        self.store
            .endpoint(account_id, id)
            .await?
            .filter(|e| e.account_id == account_id)
            .ok_or(DomainError::NotFound(ENDPOINT))
    }

    /// Changes an endpoint's URL, description, event types or state.
    pub async fn update_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        changes: EndpointChanges,
        actor: &Actor,
    ) -> Result<Endpoint, DomainError> {
        let current = self.endpoint(account_id, id).await?;
        let update = EndpointUpdate {
            url: changes.url.as_deref().map(valid_url).transpose()?,
            description: changes
                .description
                .as_deref()
                .map(valid_description)
                .transpose()?,
            events: changes.events.as_deref().map(valid_events).transpose()?,
            state: changes.state.map(valid_state).transpose()?,
        };
        if update == EndpointUpdate::default() {
            return Err(DomainError::Invalid {
                field: "url",
                message: "send at least one of url, description, events and state".into(),
            });
        }
        let mut changed = Vec::new();
        if let Some(url) = &update.url {
            changed.push(format!(
                "url host {} → {}",
                host_of(&current.url),
                host_of(url)
            ));
        }
        if update.description.is_some() {
            changed.push("description changed".to_owned());
        }
        if let Some(events) = &update.events {
            changed.push(format!(
                "events [{}] → [{}]",
                current.events.names().join(", "),
                events.names().join(", ")
            ));
        }
        if let Some(state) = update.state {
            changed.push(format!(
                "state {} → {}",
                current.state.as_str(),
                state.as_str()
            ));
        }
        let now = self.clock.now();
        let detail = format!(
            "updated webhook endpoint {id} ({}): {}",
            host_of(&current.url),
            changed.join("; ")
        );
        let event = self.event(
            account_id,
            Action::WebhookEndpointUpdated,
            actor,
            None,
            detail,
            now,
        );
        self.store
            .update_endpoint(account_id, id, &update, now, &event)
            .await
            .map_err(endpoint_error)
    }

    /// Gives an endpoint a new signing secret, returned once. The previous secret still signs
    /// (a second signature in `webhook-signature`) for 24 hours, so receivers can switch.
    pub async fn rotate_endpoint_secret(
        &self,
        account_id: AccountId,
        id: EndpointId,
        actor: &Actor,
    ) -> Result<RotatedEndpointSecret, DomainError> {
        let current = self.endpoint(account_id, id).await?;
        let secret = EndpointSecret::generate(self.random.as_ref())?;
        let sealed = self.webhook_seal.seal(&secret, self.random.as_ref())?;
        let now = self.clock.now();
        let until = now + SECRET_OVERLAP;
        let detail = format!(
            "rotated the signing secret of webhook endpoint {id} ({}); the previous secret also signs until {}",
            host_of(&current.url),
            until.format(&Rfc3339).unwrap_or_default()
        );
        let event = self.event(
            account_id,
            Action::WebhookSecretRotated,
            actor,
            None,
            detail,
            now,
        );
        let endpoint = self
            .store
            .rotate_endpoint_secret(account_id, id, &sealed, until, &event)
            .await
            .map_err(endpoint_error)?;
        Ok(RotatedEndpointSecret {
            endpoint,
            secret,
            previous_valid_until: until,
        })
    }

    /// Removes an endpoint with its delivery log; events not yet delivered to it are dropped.
    pub async fn remove_endpoint(
        &self,
        account_id: AccountId,
        id: EndpointId,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        let current = self.endpoint(account_id, id).await?;
        let now = self.clock.now();
        let detail = format!("removed webhook endpoint {id} ({})", host_of(&current.url));
        let event = self.event(
            account_id,
            Action::WebhookEndpointRemoved,
            actor,
            None,
            detail,
            now,
        );
        self.store
            .delete_endpoint(account_id, id, &event)
            .await
            .map_err(endpoint_error)
    }

    /// Queues a `webhook.test` event for this endpoint alone, whatever it subscribes to.
    pub async fn send_test_event(
        &self,
        account_id: AccountId,
        id: EndpointId,
        actor: &Actor,
    ) -> Result<(), DomainError> {
        let current = self.endpoint(account_id, id).await?;
        let now = self.clock.now();
        let detail = format!(
            "sent a webhook.test event to webhook endpoint {id} ({})",
            host_of(&current.url)
        );
        let event = self.event(
            account_id,
            Action::WebhookTestSent,
            actor,
            None,
            detail,
            now,
        );
        self.store
            .queue_test_event(account_id, id, &event)
            .await
            .map_err(endpoint_error)
    }

    /// A page of an endpoint's delivery log, newest attempt first (at most
    /// [`MAX_ATTEMPT_PAGE`]; `before`: only attempts started before then), and whether more
    /// follow it.
    pub async fn endpoint_attempts(
        &self,
        account_id: AccountId,
        id: EndpointId,
        before: Option<OffsetDateTime>,
        limit: u32,
    ) -> Result<(Vec<LoggedAttempt>, bool), DomainError> {
        self.endpoint(account_id, id).await?;
        let limit = limit.clamp(1, MAX_ATTEMPT_PAGE);
        // One more than the page: its presence says whether a next page exists.
        let mut attempts = self
            .store
            .attempts_of_endpoint(account_id, id, before, limit + 1)
            .await?;
        let more = attempts.len() > limit as usize;
        attempts.truncate(limit as usize);
        Ok((attempts, more))
    }

    /// Makes a delivery pending again, due now; its attempts so far stay in the log.
    pub async fn retry_delivery(
        &self,
        account_id: AccountId,
        id: DeliveryId,
        actor: &Actor,
    ) -> Result<Delivery, DomainError> {
        let now = self.clock.now();
        let event = self.event(
            account_id,
            Action::WebhookDeliveryRetried,
            actor,
            None,
            format!("asked to retry webhook delivery {id} now"),
            now,
        );
        self.store
            .retry_delivery(account_id, id, now, &event)
            .await
            .map_err(|e| match e {
                StoreError::NotFound => DomainError::NotFound(DELIVERY),
                other => conflict_as(
                    other,
                    "this delivery changed just now; reload the delivery log and try again",
                ),
            })
    }
}

/// What a missing endpoint is called in a 404.
const ENDPOINT: &str = "webhook endpoint";
/// What a missing delivery is called in a 404.
const DELIVERY: &str = "webhook delivery";

fn endpoint_error(error: StoreError) -> DomainError {
    match error {
        StoreError::NotFound => DomainError::NotFound(ENDPOINT),
        other => conflict_as(
            other,
            "this endpoint was changed by another request just now; reload and try again",
        ),
    }
}

fn valid_url(url: &str) -> Result<String, DomainError> {
    let url = url.trim();
    if url.is_empty() {
        return Err(DomainError::Invalid {
            field: "url",
            message:
                "give the URL deliveries are sent to, e.g. https://hooks.example.com/keywarden"
                    .into(),
        });
    }
    Ok(url.to_owned())
}

fn valid_description(text: &str) -> Result<String, DomainError> {
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION_LEN || text.chars().any(char::is_control) {
        return Err(DomainError::Invalid {
            field: "description",
            message: format!(
                "give a description of at most {MAX_DESCRIPTION_LEN} characters without line breaks"
            ),
        });
    }
    Ok(text.to_owned())
}

fn valid_events(names: &[String]) -> Result<Subscription, DomainError> {
    Subscription::parse(names).map_err(|message| DomainError::Invalid {
        field: "events",
        message,
    })
}

fn valid_state(state: EndpointState) -> Result<EndpointState, DomainError> {
    match state {
        EndpointState::Active | EndpointState::Disabled => Ok(state),
        EndpointState::Failing => Err(DomainError::Invalid {
            field: "state",
            message: "use active or disabled; an endpoint becomes failing by itself when a \
                      delivery runs out of retries"
                .into(),
        }),
    }
}

/// The host (and port) of a checked URL, for audit details: never its path or query, which
/// may carry a token.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    rest.get(..end).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_details_name_the_host_and_never_the_path_or_query() {
        assert_eq!(
            host_of("https://hooks.example.com/services/T000/B000/XXXX?token=abc"),
            "hooks.example.com"
        );
        assert_eq!(host_of("http://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(host_of("http://[::1]:80?x"), "[::1]:80");
        assert_eq!(host_of("https://a.example#frag"), "a.example");
    }

    #[test]
    fn descriptions_are_short_single_lines() {
        assert_eq!(
            valid_description("  Billing sync  ").ok(),
            Some("Billing sync".into())
        );
        assert_eq!(valid_description("").ok(), Some(String::new()));
        assert!(valid_description(&"é".repeat(200)).is_ok());
        assert!(valid_description(&"é".repeat(201)).is_err());
        assert!(valid_description("two\nlines").is_err());
    }

    #[test]
    fn events_and_states_name_their_field() {
        let field = |e: DomainError| match e {
            DomainError::Invalid { field, .. } => field,
            _ => "",
        };
        assert_eq!(
            valid_events(&["key.revokd".to_owned()])
                .map_err(field)
                .err(),
            Some("events")
        );
        assert_eq!(valid_events(&[]).map_err(field).err(), Some("events"));
        assert_eq!(
            valid_events(&["*".to_owned()]).ok(),
            Some(Subscription::All)
        );
        assert_eq!(
            valid_state(EndpointState::Failing).map_err(field).err(),
            Some("state")
        );
        assert!(valid_state(EndpointState::Disabled).is_ok());
        assert_eq!(valid_url("  ").map_err(field).err(), Some("url"));
    }
}
