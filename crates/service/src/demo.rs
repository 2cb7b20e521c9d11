//! The demo marketplace `hiatus demo` loads: a freelancer blocked by an open contract and a
//! payment in escrow, a freelancer free to leave who has regular clients, two clients and a
//! support agent. Everything is created through the use cases, so the data obeys every rule.

use crate::auth::SignUp;
use crate::error::ServiceResult;
use crate::market::{ContractAction, PaymentAction, Upload};
use crate::{Actor, Hiatus};
use hiatus_domain::*;

/// The password of every demo login.
pub const DEMO_PASSWORD: &str = "hiatus-demo-password";

/// A demo login to print.
#[derive(Clone, Debug)]
pub struct DemoLogin {
    pub email: &'static str,
    pub who: &'static str,
}

/// The demo logins, in the order they are printed.
pub const DEMO_LOGINS: [DemoLogin; 6] = [
    DemoLogin {
        email: "ana@demo.hiatus.test",
        who: "freelancer blocked by an open contract and a payment in escrow",
    },
    DemoLogin {
        email: "ben@demo.hiatus.test",
        who: "freelancer free to leave, with regular clients",
    },
    DemoLogin {
        email: "carla@demo.hiatus.test",
        who: "client who hired both freelancers",
    },
    DemoLogin {
        email: "dev@demo.hiatus.test",
        who: "client with one past contract",
    },
    DemoLogin {
        email: "sam@demo.hiatus.test",
        who: "support agent",
    },
    DemoLogin {
        email: "olga@demo.hiatus.test",
        who: "operator",
    },
];

impl Hiatus {
    /// True when the demo data is already loaded.
    pub async fn demo_loaded(&self) -> ServiceResult<bool> {
        let mut tx = self.db.read().await?;
        let e = Email::parse(DEMO_LOGINS[0].email).expect("demo email");
        let found = hiatus_store::accounts::find_by_email(&mut tx, &self.keys, &e)
            .await?
            .is_some();
        tx.commit().await?;
        Ok(found)
    }

    async fn demo_account(
        &self,
        email: &str,
        name: &str,
        kind: AccountKind,
        role: Role,
        headline: &str,
    ) -> ServiceResult<Actor> {
        let id = self
            .sign_up(
                SignUp {
                    email: email.into(),
                    password: DEMO_PASSWORD.into(),
                    legal_name: format!("{name} (demo)"),
                    display_name: name.into(),
                    kind,
                    headline: headline.into(),
                    bio: format!("{name} is a demo member of hiatus."),
                },
                role,
            )
            .await?;
        Ok(Actor {
            account: id,
            session_id: String::new(),
            role,
            kind,
            state: AccountState::Active,
            reauth_at: self.now(),
        })
    }

    /// Loads the demo marketplace (once; a second call does nothing).
    pub async fn load_demo(&self) -> ServiceResult<bool> {
        if self.demo_loaded().await? {
            return Ok(false);
        }
        let usd = |minor| Money::new(minor, Currency::USD).expect("positive");
        let ana = self
            .demo_account(
                DEMO_LOGINS[0].email,
                "Ana Alves",
                AccountKind::Freelancer,
                Role::Member,
                "Brand designer",
            )
            .await?;
        let ben = self
            .demo_account(
                DEMO_LOGINS[1].email,
                "Ben Okafor",
                AccountKind::Freelancer,
                Role::Member,
                "Rust and PostgreSQL developer",
            )
            .await?;
        let carla = self
            .demo_account(
                DEMO_LOGINS[2].email,
                "Carla Jensen",
                AccountKind::Client,
                Role::Member,
                "Founder, Jensen Bikes",
            )
            .await?;
        let dev = self
            .demo_account(
                DEMO_LOGINS[3].email,
                "Dev Patel",
                AccountKind::Client,
                Role::Member,
                "Product lead",
            )
            .await?;
        self.demo_account(
            DEMO_LOGINS[4].email,
            "Sam Support",
            AccountKind::Client,
            Role::Support,
            "Support",
        )
        .await?;
        self.demo_account(
            DEMO_LOGINS[5].email,
            "Olga Operator",
            AccountKind::Client,
            Role::Operator,
            "Operations",
        )
        .await?;

        // Ana: an open contract with money in escrow — she cannot leave yet.
        let c = self
            .create_contract(&carla, ana.account, "Logo and brand book", Currency::USD)
            .await?;
        // A direct hire is an offer until the freelancer accepts it.
        self.contract_action(&ana, c.id, ContractAction::Accept)
            .await?;
        self.fund_milestone(&carla, c.id, "Logo concepts", usd(120_000))
            .await?;
        let (t, _) = self
            .start_thread(
                &carla,
                ana.account,
                "Logo concepts",
                "Hi Ana, looking forward to the first concepts!",
                Some(c.id),
            )
            .await?;
        self.post_message(&ana, t.id, "Thanks Carla, first drafts arrive on Friday.")
            .await?;

        // Ben: three finished contracts with Carla and one with Dev — regular clients, all paid.
        for (client, title, amount) in [
            (&carla, "Inventory API", 240_000),
            (&carla, "Database migration", 180_000),
            (&carla, "Performance audit", 90_000),
            (&dev, "Prototype backend", 150_000),
        ] {
            let c = self
                .create_contract(client, ben.account, title, Currency::USD)
                .await?;
            self.contract_action(&ben, c.id, ContractAction::Accept)
                .await?;
            let (_, p) = self
                .fund_milestone(client, c.id, title, usd(amount))
                .await?;
            self.submit_work(
                &ben,
                c.id,
                "Delivered as agreed.",
                vec![Upload {
                    name: format!("{}.md", title.to_lowercase().replace(' ', "-")),
                    content_type: "text/markdown".into(),
                    bytes: format!("# {title}\n\nHandover notes for the client.\n").into_bytes(),
                }],
            )
            .await?;
            self.payment_action(client, p.id, PaymentAction::Release)
                .await?;
            let inv = self
                .issue_invoice(&ben, c.id, title, usd(amount), 14)
                .await?;
            self.pay_invoice(client, inv.id).await?;
            let (t, _) = self
                .start_thread(
                    client,
                    ben.account,
                    title,
                    "Great work, thank you!",
                    Some(c.id),
                )
                .await?;
            self.post_message(&ben, t.id, "Thank you, it was a pleasure.")
                .await?;
            self.contract_action(client, c.id, ContractAction::End)
                .await?;
            self.write_review(client, c.id, 5, "Reliable, clear and fast.")
                .await?;
            self.write_review(&ben, c.id, 5, "A great client.").await?;
        }
        // Ben withdrew everything and the payout settled: nothing left behind.
        let total: i64 = self
            .my_balances(&ben)
            .await?
            .iter()
            .map(|b| b.available.minor)
            .sum();
        let p = self.withdraw(&ben, usd(total)).await?;
        self.settle_payout(p.id).await?;
        Ok(true)
    }
}
