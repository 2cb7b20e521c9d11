//! Profiles: who may see one, listing them, and what a member may edit in their own.

use crate::error::{ServiceError, ServiceResult};
use crate::{Actor, Hiatus, check_name, check_text};
use hiatus_domain::effects::{Effects, Viewer, can_view_profile};
use hiatus_domain::*;
use hiatus_store::accounts::{self, Profile, ProfileText};
use hiatus_store::audit::{self, NewAuditEvent};
use hiatus_store::{Tx, market};
use serde::Serialize;
use serde_json::json;

/// A profile as others see it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PublicProfile {
    pub id: AccountId,
    pub kind: AccountKind,
    pub display_name: String,
    pub headline: String,
    pub bio: String,
    pub availability: Availability,
    pub reviews: i64,
    pub average_rating: Option<f64>,
}

impl Hiatus {
    async fn viewer_of(
        &self,
        tx: &mut Tx,
        viewer: Option<&Actor>,
        owner: AccountId,
    ) -> ServiceResult<Viewer> {
        Ok(match viewer {
            None => Viewer::Anonymous,
            Some(a) if a.account == owner => Viewer::Owner,
            Some(a) if market::have_contract(tx, a.account, owner).await? => Viewer::Counterparty,
            Some(_) => Viewer::Member,
        })
    }

    /// A profile by id; hidden profiles are "not found", exactly like missing ones.
    pub async fn profile(
        &self,
        viewer: Option<&Actor>,
        id: AccountId,
    ) -> ServiceResult<PublicProfile> {
        let mut tx = self.db.read().await?;
        let acct = match accounts::get(&mut tx, id).await {
            Ok(a) => a,
            Err(hiatus_store::StoreError::NotFound) => {
                return Err(ServiceError::NotFound("profile"));
            }
            Err(e) => return Err(e.into()),
        };
        let state = acct.state()?;
        if state == AccountState::Deleted || acct.role()? != Role::Member {
            return Err(ServiceError::NotFound("profile"));
        }
        let p = accounts::profile(&mut tx, &self.keys, id).await?;
        let who = self.viewer_of(&mut tx, viewer, id).await?;
        if !can_view_profile(state, p.settings.visibility, who) {
            return Err(ServiceError::NotFound("profile"));
        }
        let reviews = market::review_summary(&mut tx, id).await?;
        tx.commit().await?;
        Ok(public(acct.kind()?, p, reviews))
    }

    /// Profiles listed to the viewer, a page at a time.
    pub async fn list_profiles(
        &self,
        viewer: Option<&Actor>,
        limit: i64,
        offset: i64,
    ) -> ServiceResult<Vec<PublicProfile>> {
        let mut tx = self.db.read().await?;
        let rows = accounts::listed_profiles(
            &mut tx,
            &self.keys,
            viewer.is_some(),
            limit.clamp(1, 100),
            offset.max(0),
        )
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for p in rows {
            let kind = accounts::get(&mut tx, p.account_id).await?.kind()?;
            let reviews = market::review_summary(&mut tx, p.account_id).await?;
            out.push(public(kind, p, reviews));
        }
        tx.commit().await?;
        Ok(out)
    }

    pub(super) fn require_editable(actor: &Actor) -> ServiceResult<()> {
        if Effects::of(actor.state).edit_profile {
            Ok(())
        } else {
            Err(ServiceError::conflict(
                "account_not_active",
                format!(
                    "the account is {}; reactivate it before changing the profile",
                    actor.state
                ),
            ))
        }
    }

    /// Changes profile text.
    pub async fn update_profile(&self, actor: &Actor, t: ProfileText) -> ServiceResult<()> {
        Self::require_editable(actor)?;
        if let Some(v) = &t.display_name {
            check_name("display_name", v, 100, true)?;
        }
        if let Some(v) = &t.headline {
            check_name("headline", v, 200, false)?;
        }
        if let Some(v) = &t.bio {
            check_text("bio", v, 5000, false)?;
        }
        if let Some(Some(v)) = &t.away_message {
            check_text("away_message", v, 2000, false)?;
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        accounts::update_profile_text(&mut tx, &self.keys, actor.account, &t, now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "profile.updated", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets or clears the caller's phone number (contact info; never shown to others).
    pub async fn set_phone(&self, actor: &Actor, phone: Option<String>) -> ServiceResult<()> {
        Self::require_editable(actor)?;
        if let Some(p) = &phone {
            check_text("phone", p, 32, true)?;
            if !p
                .chars()
                .all(|c| c.is_ascii_digit() || " +-().".contains(c))
                || p.chars().filter(|c| c.is_ascii_digit()).count() < 5
            {
                return Err(ServiceError::invalid(
                    "phone_invalid",
                    "a phone number has at least 5 digits and only digits, spaces and + - ( ) .",
                ));
            }
        }
        let now = self.now();
        let mut tx = self.db.begin().await?;
        accounts::set_phone(&mut tx, &self.keys, actor.account, phone.as_deref(), now).await?;
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "contact.updated", json!({}), now),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes visibility, availability or notifications.
    pub async fn update_settings(
        &self,
        actor: &Actor,
        visibility: Option<Visibility>,
        availability: Option<Availability>,
        notifications: Option<NotificationMode>,
    ) -> ServiceResult<ProfileSettings> {
        Self::require_editable(actor)?;
        let now = self.now();
        let mut tx = self.db.begin().await?;
        let mut s = accounts::profile(&mut tx, &self.keys, actor.account)
            .await?
            .settings;
        if let Some(v) = visibility {
            s.visibility = v;
        }
        if let Some(a) = availability {
            s.availability = a;
            if a == Availability::Available {
                s.paused_until = None;
            }
        }
        if let Some(n) = notifications {
            s.notifications = n;
        }
        accounts::update_settings(
            &mut tx,
            actor.account,
            &s,
            visibility.is_some(),
            notifications.is_some(),
            now,
        )
        .await?;
        let detail = json!({
            "visibility": s.visibility.as_str(),
            "availability": s.availability.as_str(),
            "notifications": s.notifications.as_str(),
        });
        audit::record(
            &mut tx,
            NewAuditEvent::by_member(actor.account, "settings.updated", detail, now),
        )
        .await?;
        tx.commit().await?;
        Ok(s)
    }
}

fn public(kind: AccountKind, p: Profile, (reviews, rating_sum): (i64, i64)) -> PublicProfile {
    PublicProfile {
        id: p.account_id,
        kind,
        display_name: p.display_name,
        headline: p.headline,
        bio: p.bio,
        availability: p.settings.availability,
        reviews,
        average_rating: (reviews > 0).then(|| rating_sum as f64 / reviews as f64),
    }
}
