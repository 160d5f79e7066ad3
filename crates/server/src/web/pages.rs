//! The signed-in pages beyond home: a thread with its reply composer (the
//! reply defaults to the face used in that thread before), notifications
//! of every face together, and one's own anonymous posts with delete.

use super::home::{composer, status_with, Actions, Compose};
use super::i18n::Lang;
use super::session::{self, WebSession};
use super::{lang, page, see_other};
use crate::error::ApiResult;
use crate::mastodon_api::types;
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use guise_core::statuses::Page;
use guise_policy::Tier;
use maud::html;
use serde::Deserialize;

/// The page's language and its session, or the way to sign in.
pub(crate) async fn signed_in(
    req: &HttpRequest,
    state: &AppState,
) -> Result<(Lang, WebSession), HttpResponse> {
    match session::current(req, state).await {
        Some(s) => Ok((lang(req), s)),
        None => Err(see_other("/auth/sign_in")),
    }
}

/// Like `signed_in`, for a form post: its CSRF token checked too (a
/// refusal page otherwise).
pub(crate) async fn signed_in_form(
    req: &HttpRequest,
    state: &AppState,
    csrf: &str,
) -> Result<(Lang, WebSession), HttpResponse> {
    let (l, s) = signed_in(req, state).await?;
    match s.check(csrf) {
        Ok(()) => Ok((l, s)),
        Err(e) => Err(session::refusal(state, l, &e)),
    }
}

/// The links of every signed-in page.
pub(crate) fn nav(l: Lang, s: &WebSession) -> maud::Markup {
    html! {
        ul.nav {
            li { a href="/" { (l.t("home")) } }
            li { a href="/web/timelines/local" { (l.t("timeline-local")) } }
            li { a href="/web/timelines/federated" { (l.t("timeline-federated")) } }
            li { a href="/web/search" { (l.t("search")) } }
            li { a href="/web/notifications" { (l.t("notifications")) } }
            li { a href="/web/anonymous" { (l.t("my-anonymous-posts")) } }
            li { a href="/web/faces" { (l.t("faces")) } }
            li { a href="/web/account" { (l.t("account")) } }
            li { (s.nav(l)) }
        }
    }
}

pub(crate) fn first_page(limit: i64) -> Page {
    Page {
        max_id: None,
        since_id: None,
        min_id: None,
        limit,
    }
}

/// The face the owner used last in `root`'s thread: one of their faces'
/// ids, or "anonymous" (their anonymous face there, found with `k_anon`).
async fn face_in_thread(
    conn: &mut guise_core::DbConn,
    s: &WebSession,
    root: i64,
) -> ApiResult<Option<String>> {
    let mut mine: Vec<(i64, bool)> = guise_core::accounts::faces_of(conn, s.auth.account_id()?)
        .await?
        .iter()
        .map(|f| (f.id, false))
        .collect();
    if let Some(k) = &s.auth.k_anon {
        mine.extend(
            guise_core::anon::my_faces(conn, k)
                .await?
                .iter()
                .map(|f| (f.id, true)),
        );
    }
    let ids: Vec<i64> = mine.iter().map(|(id, _)| *id).collect();
    let last = guise_core::statuses::last_author_in_thread(conn, root, &ids).await?;
    Ok(last
        .and_then(|a| mine.iter().find(|(id, _)| *id == a))
        .map(|(id, anon)| {
            if *anon {
                "anonymous".to_owned()
            } else {
                id.to_string()
            }
        }))
}

pub(crate) async fn thread(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let mut conn = state.db.conn().await?;
    let st = guise_core::statuses::visible_status(&mut conn, viewer, id).await?;
    let (anc, desc) = guise_core::statuses::context(&mut conn, viewer, &st).await?;
    let ancestors = types::statuses_in(&state, &mut conn, viewer, &anc, "thread").await?;
    let descendants = types::statuses_in(&state, &mut conn, viewer, &desc, "thread").await?;
    let this = types::status_by_id(&state, &mut conn, viewer, id).await?;
    let faces = guise_core::accounts::faces_of(&mut conn, s.auth.account_id()?).await?;
    let anonymous = state.rules().tiers_enabled.contains(&Tier::Anonymous);
    let compose = Compose {
        face: face_in_thread(&mut conn, &s, st.thread_root_id)
            .await?
            .unwrap_or_default(),
        in_reply_to_id: id.to_string(),
        ..Compose::default()
    };
    let back = format!("/web/statuses/{id}");
    let acts = Actions {
        csrf: &s.csrf,
        back: &back,
    };
    Ok(page(
        &state,
        l,
        &l.t("thread"),
        nav(l, &s),
        html! {
            h1 { (l.t("thread")) }
            @for a in &ancestors { (status_with(l, a, Some(&acts))) }
            div.focus { (status_with(l, &this, Some(&acts))) }
            @for d in &descendants { (status_with(l, d, Some(&acts))) }
            section aria-labelledby="reply-h" {
                h2 #reply-h { (l.t("reply")) }
                (composer(l, &s, &faces, anonymous, &compose))
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct NotificationsQuery {
    /// A persistent face's id, "anonymous" (the anonymous faces together),
    /// or nothing (every face).
    #[serde(default, rename = "for")]
    for_: String,
}

pub(crate) async fn notifications(
    req: HttpRequest,
    state: web::Data<AppState>,
    q: web::Query<NotificationsQuery>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let mut conn = state.db.conn().await?;
    // Every face's, anonymous ones included (found with the session's key).
    let all = s.auth.reading_faces(&mut conn).await?;
    let persistent = guise_core::accounts::faces_of(&mut conn, s.auth.account_id()?).await?;
    let faces: Vec<i64> = match q.for_.as_str() {
        "" => all,
        "anonymous" => all
            .into_iter()
            .filter(|f| !persistent.iter().any(|p| p.id == *f))
            .collect(),
        id => all.into_iter().filter(|f| f.to_string() == id).collect(),
    };
    let chosen = q.for_.clone();
    let rows = guise_core::social::list_notifications(
        &mut conn,
        &faces,
        &guise_core::social::NotificationFilter {
            types: Vec::new(),
            exclude_types: Vec::new(),
            account_id: None,
        },
        &first_page(40),
    )
    .await?;
    let viewer = s.auth.face.as_ref().map(|f| f.id);
    let out = types::notifications(&state, &mut conn, viewer, &rows).await?;
    let mine = guise_core::accounts::identities_by_ids(
        &mut conn,
        &rows.iter().map(|r| r.identity_id).collect::<Vec<_>>(),
    )
    .await?;
    Ok(page(
        &state,
        l,
        &l.t("notifications"),
        nav(l, &s),
        html! {
            h1 { (l.t("notifications")) }
            nav aria-label=(l.t("notifications-for")) {
                ul.nav {
                    @let choices = std::iter::once((String::new(), l.t("notifications-all")))
                        .chain(persistent.iter().map(|f| (f.id.to_string(), format!("@{}", f.handle))))
                        .chain(std::iter::once(("anonymous".to_owned(), l.t("notifications-anonymous"))));
                    @for (key, label) in choices {
                        li {
                            @if key == chosen {
                                span aria-current="page" { (label) }
                            } @else if key.is_empty() {
                                a href="/web/notifications" { (label) }
                            } @else {
                                a href={ "/web/notifications?for=" (key) } { (label) }
                            }
                        }
                    }
                }
            }
            @if out.is_empty() { p { (l.t("notifications-empty")) } }
            ol.notifications {
                @for (n, row) in out.iter().zip(&rows) {
                    @let who = if n.account.display_name.is_empty() { &n.account.username } else { &n.account.display_name };
                    @let to = mine.iter().find(|f| f.id == row.identity_id);
                    @let to_name = match to {
                        Some(f) if f.tier() == Tier::Anonymous => l.t("your-anonymous-face"),
                        Some(f) => format!("@{}", f.handle),
                        None => String::new(),
                    };
                    li {
                        p {
                            strong { (l.t_with(&format!("notification-{}", n.kind), &[("name", who)])) }
                            " " span.hint { (l.t_with("to-face", &[("face", &to_name)])) }
                        }
                        @if let Some(st) = &n.status { (status_with(l, st, None)) }
                    }
                }
            }
        },
    ))
}

pub(crate) async fn anonymous_posts(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let mut conn = state.db.conn().await?;
    let k = s.auth.anon_key()?;
    let ids = guise_core::anon::my_statuses(&mut conn, k, &first_page(40)).await?;
    let posts = types::statuses_by_ids(&state, &mut conn, None, &ids).await?;
    Ok(page(
        &state,
        l,
        &l.t("my-anonymous-posts"),
        nav(l, &s),
        html! {
            h1 { (l.t("my-anonymous-posts")) }
            p.hint { (l.t("my-anonymous-posts-hint")) }
            @if posts.is_empty() { p { (l.t("my-anonymous-posts-empty")) } }
            @for p in &posts {
                (status_with(l, p, None))
                p { a href={ "/web/statuses/" (p.id) "/edit" } aria-label=(l.t_with("edit-post-by", &[("name", &p.account.acct)])) { (l.t("edit")) } }
                form method="post" action={ "/web/statuses/" (p.id) "/delete" } {
                    input type="hidden" name="csrf" value=(s.csrf);
                    button.danger type="submit" aria-label=(l.t_with("delete-post-by", &[("name", &p.account.acct)])) { (l.t("delete")) }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

pub(crate) async fn delete(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    match crate::mastodon_api::statuses::delete_as(&state, &s.auth, &mut conn, id).await {
        Ok(_) => Ok(see_other("/web/anonymous")),
        Err(e) => Ok(session::refusal(&state, l, &e)),
    }
}

/// Per face: who may reach it anonymously, and whether it sees anonymous
/// posts in its timelines.
pub(crate) async fn faces(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let mut conn = state.db.conn().await?;
    let faces = guise_core::accounts::faces_of(&mut conn, s.auth.account_id()?).await?;
    let has_real_name = faces.iter().any(|f| f.tier() == Tier::RealName);
    let real_names_offered = state.rules().tiers_enabled.contains(&Tier::RealName);
    let mut rows = Vec::with_capacity(faces.len());
    for f in faces {
        let p = guise_core::accounts::preferences_of(&mut conn, f.id).await?;
        rows.push((f, p));
    }
    let only_one = rows.len() == 1;
    Ok(page(
        &state,
        l,
        &l.t("faces"),
        nav(l, &s),
        html! {
            h1 { (l.t("faces")) }
            p.hint { (l.t("reach-why")) }
            @for (f, p) in &rows {
                @let fid = f.id.to_string();
                section aria-labelledby={ "face-" (fid) } {
                    h2 id={ "face-" (fid) } { (super::home::face_label(l, f)) }
                    form method="post" action={ "/web/faces/" (fid) "/reach" } {
                        input type="hidden" name="csrf" value=(s.csrf);
                        fieldset {
                            legend { (l.t("reach-legend")) }
                            @for r in guise_core::reach::ALL {
                                label.choice {
                                    input type="radio" name="anonymous_reach" value=(r) checked[p.anonymous_reach == *r];
                                    " " (l.t(&format!("reach-{r}")))
                                }
                            }
                        }
                        label.choice {
                            input type="checkbox" name="hide_anonymous" value="true" checked[p.hide_anonymous];
                            " " (l.t("reach-hide"))
                        }
                        button type="submit" { (l.t("save")) }
                    }
                    @if f.tier() != Tier::Anonymous {
                        @let fields = crate::mastodon_api::types::Field::source_of(f);
                        details {
                            summary { (l.t("face-edit")) }
                            form method="post" action={ "/web/faces/" (fid) "/profile" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                @if f.tier() == Tier::RealName { p.hint { (l.t("face-edit-real-name")) } }
                                label for={ "name-" (fid) } { (l.t("face-display-name")) }
                                input id={ "name-" (fid) } type="text" name="display_name" value=(f.display_name) maxlength="100";
                                label for={ "note-" (fid) } { (l.t("face-note")) }
                                textarea id={ "note-" (fid) } name="note" rows="3" maxlength="500" { (f.note) }
                                fieldset {
                                    legend { (l.t("face-fields")) }
                                    @for i in 0..guise_core::faces::MAX_FIELDS {
                                        @let (n, v) = fields.get(i).map(|x| (x.name.as_str(), x.value.as_str())).unwrap_or(("", ""));
                                        label for={ "fn-" (fid) "-" (i) } { (l.t_with("face-field-name", &[("n", &(i + 1).to_string())])) }
                                        input id={ "fn-" (fid) "-" (i) } type="text" name={ "field_name_" (i) } value=(n) maxlength="255";
                                        label for={ "fv-" (fid) "-" (i) } { (l.t_with("face-field-value", &[("n", &(i + 1).to_string())])) }
                                        input id={ "fv-" (fid) "-" (i) } type="text" name={ "field_value_" (i) } value=(v) maxlength="255";
                                    }
                                }
                                label.choice {
                                    input type="checkbox" name="locked" value="true" checked[f.locked];
                                    " " (l.t("face-locked"))
                                }
                                label.choice {
                                    input type="checkbox" name="discoverable" value="true" checked[f.discoverable];
                                    " " (l.t("face-discoverable"))
                                }
                                button type="submit" { (l.t("save")) }
                            }
                        }
                    }
                    @if !only_one {
                        form method="post" action={ "/web/faces/" (fid) "/delete" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.small.danger type="submit" aria-label=(l.t_with("face-delete-named", &[("name", &f.handle)])) { (l.t("face-delete")) }
                        }
                    }
                }
            }
            section aria-labelledby="new-face-h" {
                h2 #new-face-h { (l.t("face-new")) }
                p.hint { (l.t("face-new-hint")) }
                form method="post" action="/web/faces/new" {
                    input type="hidden" name="csrf" value=(s.csrf);
                    input type="hidden" name="kind" value="pseudonym";
                    label for="new-handle" { (l.t("sign-up-username")) }
                    input #new-handle type="text" name="handle" required;
                    label for="new-name" { (l.t("face-display-name")) }
                    input #new-name type="text" name="display_name";
                    button type="submit" { (l.t("face-create")) }
                }
            }
            @if real_names_offered && !has_real_name {
                section aria-labelledby="real-name-h" {
                    h2 #real-name-h { (l.t("face-real-name")) }
                    p.hint { (l.t("face-real-name-hint")) }
                    form method="post" action="/web/faces/new" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        input type="hidden" name="kind" value="real_name";
                        label for="rn-handle" { (l.t("sign-up-username")) }
                        input #rn-handle type="text" name="handle" required;
                        label for="rn-name" { (l.t("face-legal-name")) }
                        input #rn-name type="text" name="display_name" required;
                        button type="submit" { (l.t("face-real-name-ask")) }
                    }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct NewFaceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    handle: String,
    #[serde(default)]
    display_name: String,
}

/// A new pseudonym, or the request for a real-name face (verified by staff).
pub(crate) async fn new_face(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<NewFaceForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let account = s.auth.account_id()?;
    let clock = state.clock.as_ref();
    let mut conn = state.db.conn().await?;
    let made = if form.kind == "real_name" {
        if !state.rules().tiers_enabled.contains(&Tier::RealName) {
            return Ok(session::refusal(
                &state,
                l,
                &crate::error::ApiError::unprocessable("Real-name faces are not offered here"),
            ));
        }
        guise_core::faces::request_real_name(
            &mut conn,
            clock,
            account,
            &form.handle,
            &form.display_name,
        )
        .await
    } else {
        guise_core::faces::create_pseudonym(
            &mut conn,
            clock,
            account,
            &form.handle,
            &form.display_name,
            "",
        )
        .await
    };
    match made {
        Ok(_) => Ok(see_other("/web/faces")),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

pub(crate) async fn delete_face(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<CsrfForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    match guise_core::faces::delete_face(&mut conn, state.clock.as_ref(), s.auth.account_id()?, id)
        .await
    {
        Ok(()) => Ok(see_other("/web/faces")),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

#[derive(Deserialize)]
pub(crate) struct ReachForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    anonymous_reach: String,
    #[serde(default)]
    hide_anonymous: String,
}

pub(crate) async fn set_reach(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ReachForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let mut conn = state.db.conn().await?;
    let Some(face) = own_face(&mut conn, &s, &path).await? else {
        return Ok(session::refusal(
            &state,
            l,
            &crate::error::ApiError::not_found(),
        ));
    };
    let reach = (!form.anonymous_reach.is_empty()).then_some(form.anonymous_reach.as_str());
    if let Err(e) = guise_core::faces::set_anonymous_reach(
        &mut conn,
        &face,
        reach,
        Some(form.hide_anonymous == "true"),
    )
    .await
    {
        return Ok(session::refusal(&state, l, &e.into()));
    }
    Ok(see_other("/web/faces"))
}

/// A face's profile as its form sends it.
#[derive(Deserialize)]
pub(crate) struct ProfileForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    note: String,
    #[serde(default)]
    locked: String,
    #[serde(default)]
    discoverable: String,
    #[serde(flatten)]
    rest: std::collections::HashMap<String, String>,
}

/// Saves a persistent face's profile (display name, note, up to four
/// fields, locked, discoverable). A verified real name changed goes back to
/// the verification queue (the core rule).
pub(crate) async fn set_profile(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<ProfileForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let mut conn = state.db.conn().await?;
    let Some(face) = own_face(&mut conn, &s, &path).await? else {
        return Ok(session::refusal(
            &state,
            l,
            &crate::error::ApiError::not_found(),
        ));
    };
    let fields: Vec<(String, String)> = (0..guise_core::faces::MAX_FIELDS)
        .filter_map(|i| {
            let name = form.rest.get(&format!("field_name_{i}"))?.trim().to_owned();
            let value = form
                .rest
                .get(&format!("field_value_{i}"))
                .map(|v| v.trim().to_owned())
                .unwrap_or_default();
            (!name.is_empty() || !value.is_empty()).then_some((name, value))
        })
        .collect();
    let change = guise_core::faces::ProfileChange {
        handle: None,
        display_name: Some(form.display_name.clone()),
        note: Some(form.note.clone()),
        locked: Some(form.locked == "true"),
        bot: None,
        discoverable: Some(form.discoverable == "true"),
        fields: Some(fields),
    };
    match guise_core::faces::update_profile(&mut conn, state.clock.as_ref(), &face, change).await {
        Ok(face) => {
            crate::rel_me::check_later(&state, &face);
            Ok(see_other("/web/faces"))
        }
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

/// Editing one's own post — an anonymous one too (found with the session's
/// key, as the API does for an "All my faces" token).
pub(crate) async fn edit_page(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let face = crate::mastodon_api::statuses::acting_author(&s.auth, &mut conn, id).await;
    let view = guise_core::statuses::load_view(&mut conn, None, id).await;
    let view = match (face, view) {
        (Ok(face), Ok(view)) if view.status.identity_id == face.id => view,
        _ => {
            return Ok(session::refusal(
                &state,
                l,
                &crate::error::ApiError::not_found(),
            ))
        }
    };
    Ok(edit_form(
        &state,
        l,
        &s,
        id,
        &view.status.source_text,
        &view.status.spoiler_text,
        None,
    ))
}

fn edit_form(
    state: &AppState,
    l: Lang,
    s: &WebSession,
    id: i64,
    text: &str,
    spoiler: &str,
    error: Option<&str>,
) -> HttpResponse {
    page(
        state,
        l,
        &l.t("edit"),
        nav(l, s),
        html! {
            h1 { (l.t("edit")) }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action={ "/web/statuses/" (id) "/edit" } {
                input type="hidden" name="csrf" value=(s.csrf);
                label for="status" { (l.t("compose-text")) }
                textarea #status name="status" rows="4" required { (text) }
                label for="spoiler_text" { (l.t("content-warning")) }
                input #spoiler_text type="text" name="spoiler_text" value=(spoiler);
                button type="submit" { (l.t("save")) }
            }
        },
    )
}

#[derive(Deserialize)]
pub(crate) struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    spoiler_text: String,
}

pub(crate) async fn edit(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<String>,
    form: web::Form<EditForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let id = crate::mastodon_api::parse_id(&path)?;
    let mut conn = state.db.conn().await?;
    let input = guise_core::statuses::StatusEditInput {
        text: form.status.clone(),
        spoiler_text: form.spoiler_text.clone(),
        sensitive: false,
        language: None,
        media: None,
        media_attributes: Vec::new(),
        poll: None,
    };
    match crate::mastodon_api::statuses::edit_as(&state, &s.auth, &mut conn, id, input).await {
        Ok(face) if face.tier() == Tier::Anonymous => Ok(see_other("/web/anonymous")),
        Ok(_) => Ok(see_other(&format!("/web/statuses/{id}"))),
        Err(e) => {
            let mut resp = edit_form(
                &state,
                l,
                &s,
                id,
                &form.status,
                &form.spoiler_text,
                Some(&e.message),
            );
            *resp.status_mut() = e.status;
            Ok(resp)
        }
    }
}

/// The login's persistent face named by `id` in a path, if it is one.
async fn own_face(
    conn: &mut guise_core::DbConn,
    s: &WebSession,
    id: &str,
) -> ApiResult<Option<guise_core::models::Identity>> {
    let id = crate::mastodon_api::parse_id(id)?;
    Ok(guise_core::accounts::faces_of(conn, s.auth.account_id()?)
        .await?
        .into_iter()
        .find(|f| f.id == id))
}
