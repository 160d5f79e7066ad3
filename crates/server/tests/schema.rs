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
