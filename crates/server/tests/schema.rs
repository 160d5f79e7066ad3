//! crates/core/src/schema.rs is kept by hand: check it against the migrated
//! database, table by table and column by column (name and nullability).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::BTreeMap;

type Columns = BTreeMap<String, BTreeMap<String, bool>>;

fn from_schema_rs() -> Columns {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../core/src/schema.rs"
    ))
    .unwrap();
    let mut out = Columns::new();
    let mut table: Option<String> = None;
    for line in text.lines() {
        let l = line.trim();
        if l.ends_with('{') && l.contains('(') && !l.starts_with("diesel::") {
            table = Some(l.split_whitespace().next().unwrap().to_owned());
            out.insert(table.clone().unwrap(), BTreeMap::new());
        } else if let (Some(t), Some((name, ty))) = (&table, l.split_once(" -> ")) {
            out.get_mut(t)
                .unwrap()
                .insert(name.trim().to_owned(), ty.starts_with("Nullable<"));
        } else if l == "}" {
            table = None;
        }
    }
    out
}

#[actix_web::test]
async fn schema_rs_matches_the_database() {
    use diesel::sql_types::{Bool, Text};
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Col {
        #[diesel(sql_type = Text)]
        table_name: String,
        #[diesel(sql_type = Text)]
        column_name: String,
        #[diesel(sql_type = Bool)]
        nullable: bool,
    }
    let t = common::TestApp::new().await;
    let mut conn = t.state.db.conn().await.unwrap();
    let cols: Vec<Col> = diesel::sql_query(
        "SELECT table_name::text, column_name::text, (is_nullable = 'YES') AS nullable
           FROM information_schema.columns
          WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .load(&mut conn)
    .await
    .unwrap();
    let mut db = Columns::new();
    for c in cols {
        db.entry(c.table_name)
            .or_default()
            .insert(c.column_name, c.nullable);
    }
    let rs = from_schema_rs();
    assert!(
        rs.len() >= 18,
        "parsed too few tables from schema.rs: {rs:?}"
    );
    assert_eq!(rs, db);
}

async fn query_pairs(t: &common::TestApp, sql: &str) -> Vec<(String, String)> {
    use diesel::sql_types::Text;
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct P {
        #[diesel(sql_type = Text)]
        a: String,
        #[diesel(sql_type = Text)]
        b: String,
    }
    let mut conn = t.state.db.conn().await.unwrap();
    diesel::sql_query(sql)
        .load::<P>(&mut conn)
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.a, p.b))
        .collect()
}

const FKS: &str =
    "SELECT tc.table_name::text || '.' || kcu.column_name::text AS a, ccu.table_name::text AS b
   FROM information_schema.table_constraints tc
   JOIN information_schema.key_column_usage kcu ON tc.constraint_name = kcu.constraint_name
   JOIN information_schema.constraint_column_usage ccu ON tc.constraint_name = ccu.constraint_name
  WHERE tc.constraint_type = 'FOREIGN KEY' AND tc.table_schema = 'public'";

/// Rule 4: rows tied to a login carry dates, never instants.
#[actix_web::test]
async fn account_tied_rows_carry_dates_not_instants() {
    let t = common::TestApp::new().await;
    let fks = query_pairs(&t, FKS).await;
    let mut tied: Vec<String> = fks
        .iter()
        .filter(|(_, to)| to == "accounts")
        .map(|(from, _)| from.split('.').next().unwrap().to_owned())
        .collect();
    tied.push("accounts".into());
    tied.sort();
    tied.dedup();
    let cols = query_pairs(&t, "SELECT table_name::text || '.' || column_name::text AS a, data_type::text AS b FROM information_schema.columns WHERE table_schema = 'public'").await;
    let instants: Vec<&String> = cols
        .iter()
        .filter(|(c, ty)| {
            tied.iter().any(|t| c.starts_with(&format!("{t}.")))
                && (ty.contains("timestamp") || ty.contains("time "))
        })
        .map(|(c, _)| c)
        .collect();
    assert!(
        instants.is_empty(),
        "account-tied instants: {instants:?} (tables {tied:?})"
    );
}

/// Rule 3: no foreign-key path leads from an anonymous face to an account.
/// The edges into `accounts` are the ones reviewed here, each closed to
/// anonymous faces by the database itself: a face's own login (none for an
/// anonymous face), and a push subscription's login, which may name a face
/// only together with that face's own login, and an audit-log line's staff
/// login (a trigger refuses any login that is not staff: a line may name an
/// anonymous face as what staff acted on, never a user's login beside it),
/// and the staff logins handling a report (the same trigger rule).
/// Token rows name nothing at all in the clear: no login, no face, no app.
#[actix_web::test]
async fn no_foreign_key_path_leads_from_an_anonymous_face_to_an_account() {
    let t = common::TestApp::new().await;
    let fks = query_pairs(&t, FKS).await;
    let mut into_accounts: Vec<String> = fks
        .iter()
        .filter(|(_, to)| to == "accounts")
        .map(|(from, _)| from.clone())
        .collect();
    into_accounts.sort();
    assert_eq!(
        into_accounts,
        vec![
            "audit_log.staff_account_id",
            "identities.account_id",
            "push_subscriptions.account_id",
            "report_handling.action_taken_by_account_id",
            "report_handling.assigned_account_id"
        ],
        "a new edge into accounts needs review here"
    );
    let from_tokens: Vec<&(String, String)> = fks
        .iter()
        .filter(|(from, _)| {
            from.starts_with("oauth_tokens.") || from.starts_with("oauth_codes.account")
        })
        .collect();
    assert!(
        from_tokens.is_empty(),
        "token rows point at {from_tokens:?}"
    );
    let token_cols = query_pairs(&t, "SELECT column_name::text AS a, data_type::text AS b FROM information_schema.columns WHERE table_name = 'oauth_tokens'").await;
    for (col, _) in &token_cols {
        for banned in ["account", "identity", "app_id", "binding"] {
            assert!(
                !col.contains(banned),
                "oauth_tokens.{col} names its owner in the clear"
            );
        }
    }
    let (account, _) = t.create_account("alice").await;
    // A planted leak the schema must refuse: an anonymous face with an account id.
    let mut conn = t.state.db.conn().await.unwrap();
    use diesel_async::RunQueryDsl;
    let planted_face = diesel::sql_query(format!(
        "INSERT INTO identities (id, account_id, tier, handle, created_on) VALUES (1, {account}, 'anonymous', 'anon_planted', current_date)"
    ))
    .execute(&mut conn)
    .await;
    assert!(
        planted_face.is_err(),
        "an anonymous face with an account id was accepted"
    );
    // Nor may a push subscription tie an anonymous face to a login.
    diesel::sql_query(
        "INSERT INTO identities (id, tier, handle, created_on) VALUES (2, 'anonymous', 'anon_real', current_date)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let planted_push = diesel::sql_query(format!(
        "INSERT INTO push_subscriptions (id, token_tag, account_id, identity_id, epoch, endpoint, p256dh, auth, standard, alerts, policy) \
         VALUES (1, '\\x00', {account}, 2, 0, 'https://push.example/', '\\x04', '\\x00', true, '{{}}', 'all')"
    ))
    .execute(&mut conn)
    .await;
    assert!(
        planted_push.is_err(),
        "a push subscription naming an anonymous face was accepted"
    );
    // Nor may a report about that face name a user's login as its handler.
    diesel::sql_query(
        "INSERT INTO reports (id, identity_id, target_identity_id, status_ids, comment, category, rule_ids, forwarded, created_at) \
         VALUES (3, NULL, 2, '{}', '', 'other', '{}', false, now())",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let planted_handler = diesel::sql_query(format!(
        "INSERT INTO report_handling (report_id, assigned_account_id) VALUES (3, {account})"
    ))
    .execute(&mut conn)
    .await;
    assert!(
        planted_handler.is_err(),
        "a report handled by a user's login was accepted"
    );
    t.sql(&format!(
        "UPDATE accounts SET role = 'moderator' WHERE id = {account}"
    ))
    .await;
    diesel::sql_query(format!(
        "INSERT INTO report_handling (report_id, assigned_account_id) VALUES (3, {account})"
    ))
    .execute(&mut conn)
    .await
    .expect("staff may take a report on");
}

/// Indexes that repeat another: same table, columns, operator classes,
/// expressions, predicate and uniqueness.
const TWIN_INDEXES: &str = "SELECT a.indexrelid::regclass::text AS a, b.indexrelid::regclass::text AS b
   FROM pg_index a JOIN pg_index b
     ON a.indrelid = b.indrelid AND a.indexrelid < b.indexrelid
    AND a.indkey::text = b.indkey::text AND a.indclass::text = b.indclass::text
    AND a.indisunique = b.indisunique
    AND COALESCE(pg_get_expr(a.indexprs, a.indrelid), '') = COALESCE(pg_get_expr(b.indexprs, b.indrelid), '')
    AND COALESCE(pg_get_expr(a.indpred, a.indrelid), '') = COALESCE(pg_get_expr(b.indpred, b.indrelid), '')
   JOIN pg_class c ON c.oid = a.indrelid
   JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = 'public'";

/// No index repeats another: each copy costs every write and buys nothing.
/// Two unique indexes on boosts did, for two days.
#[actix_web::test]
async fn no_index_repeats_another() {
    let t = common::TestApp::new().await;
    let twins = query_pairs(&t, TWIN_INDEXES).await;
    assert!(twins.is_empty(), "indexes repeating each other: {twins:?}");
    // The check can fail: a copy made here is found.
    t.sql("CREATE UNIQUE INDEX statuses_uri_copy ON statuses (uri) WHERE uri IS NOT NULL")
        .await;
    let twins = query_pairs(&t, TWIN_INDEXES).await;
    assert_eq!(
        twins,
        [(
            "statuses_uri_key".to_owned(),
            "statuses_uri_copy".to_owned()
        )]
    );
}
