//! Reviews: written once per party after a contract ends, summed up on the profile, and hidden
//! with the profile while its owner is away.

use crate::support::{TestApp, on_both_backends};
use serde_json::json;

on_both_backends!(reviews_are_counted_on_the_profile);

async fn reviews_are_counted_on_the_profile(t: &TestApp) {
    let f = t.member("freelancer").await;
    let c1 = t.member("client").await;
    let c2 = t.member("client").await;
    let path = format!("/api/v1/profiles/{}", f.id);
    let p = t.get(None, &path).await.expect(200);
    assert_eq!(p["reviews"], 0);
    assert!(p["average_rating"].is_null());

    let first = t.contract(&c1, &f, "Logo").await;
    // Not before the contract ends.
    t.post(
        Some(&c1),
        &format!("/api/v1/contracts/{first}/reviews"),
        json!({"rating": 5}),
    )
    .await
    .problem(409, "contract_not_ended");
    t.contract_action(&c1, &first, "end").await.expect(200);
    t.post(
        Some(&c1),
        &format!("/api/v1/contracts/{first}/reviews"),
        json!({"rating": 5, "body": "Great"}),
    )
    .await
    .expect(201);
    t.post(
        Some(&c1),
        &format!("/api/v1/contracts/{first}/reviews"),
        json!({"rating": 1}),
    )
    .await
    .problem(409, "review_exists");
    t.post(
        Some(&c1),
        &format!("/api/v1/contracts/{first}/reviews"),
        json!({"rating": 6}),
    )
    .await
    .problem(422, "rating_invalid");

    let second = t.contract(&c2, &f, "Website").await;
    t.contract_action(&c2, &second, "end").await.expect(200);
    t.post(
        Some(&c2),
        &format!("/api/v1/contracts/{second}/reviews"),
        json!({"rating": 2}),
    )
    .await
    .expect(201);

    let p = t.get(None, &path).await.expect(200);
    assert_eq!(p["reviews"], 2);
    assert_eq!(p["average_rating"], 3.5);
    let list = t.get(None, &format!("{path}/reviews")).await.expect(200);
    assert_eq!(list.as_array().unwrap().len(), 2);

    // The freelancer's own review of a client counts on the client's profile, not theirs.
    t.post(
        Some(&f),
        &format!("/api/v1/contracts/{first}/reviews"),
        json!({"rating": 4}),
    )
    .await
    .expect(201);
    assert_eq!(t.get(None, &path).await.expect(200)["reviews"], 2);
    assert_eq!(
        t.get(None, &format!("/api/v1/profiles/{}", c1.id))
            .await
            .expect(200)["reviews"],
        1
    );

    // Hidden with the profile while deactivated.
    t.deactivate(&f).await.expect(200);
    t.get(None, &format!("{path}/reviews"))
        .await
        .problem(404, "not_found");
}
