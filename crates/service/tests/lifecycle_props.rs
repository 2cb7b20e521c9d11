//! Property tests through the service layer on a real SQLite file: whatever a member does with
//! breaks and settings, deactivation followed by reactivation brings back exactly the
//! visibility and availability they had, and a deactivated profile is never visible to others.

mod support;

use hiatus_domain::effects::{Viewer, can_view_profile};
use hiatus_domain::*;
use hiatus_service::lifecycle::CloseRequest;
use hiatus_service::worker::Worker;
use proptest::prelude::*;
use std::time::Duration;

#[derive(Clone, Debug)]
enum Op {
    Visibility(Visibility),
    Availability(Availability),
    Notifications(NotificationMode),
    StartBreak {
        private: bool,
        mute: bool,
        days: Option<i64>,
    },
    EndBreak,
    Deactivate,
    Reactivate,
    Wait {
        days: i64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        prop::sample::select(vec![
            Visibility::Public,
            Visibility::MembersOnly,
            Visibility::Private
        ])
        .prop_map(Op::Visibility),
        prop::sample::select(vec![Availability::Available, Availability::Paused])
            .prop_map(Op::Availability),
        prop::sample::select(vec![
            NotificationMode::All,
            NotificationMode::Digest,
            NotificationMode::Muted
        ])
        .prop_map(Op::Notifications),
        (any::<bool>(), any::<bool>(), prop::option::of(1i64..20)).prop_map(
            |(private, mute, days)| Op::StartBreak {
                private,
                mute,
                days
            }
        ),
        Just(Op::EndBreak),
        Just(Op::Deactivate),
        Just(Op::Deactivate),
        Just(Op::Reactivate),
        Just(Op::Reactivate),
        (1i64..25).prop_map(|days| Op::Wait { days }),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let e = support::env(false).await;
    let mut actor = e.freelancer().await;
    let worker = Worker::new(e.h.clone(), Duration::from_millis(1));
    let mut saved: Option<ProfileSettings> = None;
    for op in ops {
        let before = e.h.me(&actor).await.unwrap();
        match op {
            Op::Visibility(v) => {
                let _ = e.h.update_settings(&actor, Some(v), None, None).await;
            }
            Op::Availability(a) => {
                let _ = e.h.update_settings(&actor, None, Some(a), None).await;
            }
            Op::Notifications(n) => {
                let _ = e.h.update_settings(&actor, None, None, Some(n)).await;
            }
            Op::StartBreak {
                private,
                mute,
                days,
            } => {
                let until = days.map(|d| e.h.now() + d * DAY_MICROS);
                let _ =
                    e.h.start_break(
                        &actor,
                        BreakRequest {
                            private,
                            mute,
                            until,
                        },
                    )
                    .await;
            }
            Op::EndBreak => {
                let _ = e.h.end_break(&actor).await;
            }
            Op::Deactivate => {
                let r =
                    e.h.deactivate(
                        &actor,
                        CloseRequest {
                            password: Some("a long enough password".into()),
                            reason: ClosureReason::Other,
                            detail: None,
                        },
                    )
                    .await;
                prop_assert_eq!(
                    r.is_ok(),
                    before.state == AccountState::Active,
                    "deactivation succeeds exactly when active"
                );
                if r.is_ok() {
                    saved = Some(before.settings);
                }
            }
            Op::Reactivate => {
                let r = e.h.reactivate(&actor).await;
                prop_assert_eq!(r.is_ok(), before.state == AccountState::Deactivated);
                if r.is_ok() {
                    actor.state = AccountState::Active;
                    let after = e.h.me(&actor).await.unwrap().settings;
                    let s = saved.take().expect("a reactivation follows a deactivation");
                    if s.break_due_to_end(e.h.now()) {
                        // The break's end date passed while the account was away: the break
                        // ended on its date, as it would have for an active member.
                        prop_assert_eq!(after.availability, Availability::Available);
                        prop_assert_eq!(after.paused_until, None);
                    } else {
                        prop_assert_eq!(after, s);
                    }
                }
            }
            Op::Wait { days } => {
                e.clock.advance(days * DAY_MICROS);
                worker.drain().await.unwrap();
            }
        }
        let now = e.h.me(&actor).await.unwrap();
        actor.state = now.state;
        // A deactivated profile is never visible to others, whatever its settings.
        let visible = e.h.profile(None, actor.account).await.is_ok();
        prop_assert_eq!(
            visible,
            can_view_profile(now.state, now.settings.visibility, Viewer::Anonymous)
        );
        if now.state == AccountState::Deactivated {
            prop_assert!(!visible);
        }
    }
    e.finish().await;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: std::env::var("PROPTEST_CASES").ok().and_then(|s| s.parse().ok()).map(|n: u32| n.min(48)).unwrap_or(24), ..ProptestConfig::default() })]

    #[test]
    fn reactivation_restores_settings(ops in prop::collection::vec(op(), 1..30)) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(ops))?;
    }
}
