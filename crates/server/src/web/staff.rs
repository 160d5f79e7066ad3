//! The staff page: sign-ups waiting for approval, anonymous posts waiting
//! for the announcer, the real-name queue, open reports, suspended faces
//! and (for admins) blocked domains, with the actions the admin API offers (approve or reject a
//! sign-up or an announcement, verify or reject a real name,
//! suspend or unsuspend a face, delete a post, close a report). Staff only,
//! and — when the instance requires it — only with two-factor sign-in on.
//! Every action names a face or a post, never a login.

use super::pages::{nav, signed_in, signed_in_form};
use super::session::{self, WebSession};
use super::{page, see_other, Lang};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use actix_web::{web, HttpRequest, HttpResponse};
use maud::{html, PreEscaped};
use serde::Deserialize;

/// Whether this session's login may moderate (the same rule as the admin API).
async fn may_moderate(state: &AppState, s: &WebSession) -> ApiResult<guise_core::models::Account> {
    let mut conn = state.db.conn().await?;
    let account = guise_core::accounts::get_account(&mut conn, s.auth.account_id()?).await?;
    if !account.is_staff() {
        return Err(ApiError::forbidden("This page is for staff"));
    }
    if state.config.instance.staff_two_factor && account.otp_secret.is_none() {
        return Err(ApiError::forbidden(
            "Staff must turn on two-factor sign-in (on the account page) first",
        ));
    }
    Ok(account)
}

pub(crate) async fn show(req: HttpRequest, state: web::Data<AppState>) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in(&req, &state).await {
        Ok(x) => x,
        Err(to_sign_in) => return Ok(to_sign_in),
    };
    let staff = match may_moderate(&state, &s).await {
        Ok(a) => a,
        Err(e) => return Ok(session::refusal(&state, l, &e)),
    };
    let mut conn = state.db.conn().await?;
    // Domain blocks are the admins' (as in the admin API).
    let blocked = if staff.is_admin() {
        Some(guise_core::domains::blocks(&mut conn).await?)
    } else {
        None
    };
    let pending = guise_core::faces::real_names(&mut conn, "pending").await?;
    let reports = guise_core::keepings::open_reports(&mut conn, 50).await?;
    let mut rows = Vec::with_capacity(reports.len());
    for r in &reports {
        let target = guise_core::accounts::get_identity(&mut conn, r.target_identity_id).await?;
        let posts =
            crate::mastodon_api::types::statuses_by_ids(&state, &mut conn, None, &r.status_ids)
                .await
                .unwrap_or_default();
        rows.push((r, target, posts));
    }
    let suspended = guise_core::moderation::suspended_faces(&mut conn, 50).await?;
    let waiting = guise_core::moderation::find_faces(
        &mut conn,
        &guise_core::moderation::FaceFilter {
            local: Some(true),
            status: Some("pending".into()),
            ..Default::default()
        },
        &guise_core::statuses::Page {
            limit: 50,
            ..Default::default()
        },
    )
    .await?;
    let held = guise_core::held::list(&mut conn, 50).await?;
    let held = crate::admin_api::held::entities(&state, &mut conn, &held).await?;
    let holding = state
        .incoming_rules()
        .iter()
        .any(|r| r.action == guise_policy::incoming::Action::Hold);
    let queued = guise_core::announcer::queue(&mut conn, 50).await?;
    let queued = crate::mastodon_api::types::statuses_by_ids(&state, &mut conn, None, &queued)
        .await
        .unwrap_or_default();
    let mut sign_ups = Vec::with_capacity(waiting.len());
    for f in waiting {
        let reason = match f.account_id {
            Some(login) => {
                guise_core::accounts::approval_state(&mut conn, login)
                    .await?
                    .1
            }
            None => None,
        };
        sign_ups.push((f, reason.unwrap_or_default()));
    }
    Ok(page(
        &state,
        l,
        &l.t("staff"),
        nav(l, &s),
        html! {
            h1 { (l.t("staff")) }
            p.hint { (l.t("staff-hint")) }
            section aria-labelledby="su-h" {
                h2 #su-h { (l.t("staff-sign-ups")) }
                @if sign_ups.is_empty() { p { (l.t("staff-none")) } }
                ul {
                    @for (f, reason) in &sign_ups {
                        li {
                            span.acct { "@" (f.handle) }
                            @if !reason.is_empty() { blockquote { (reason) } }
                            @for (what, label) in [("approve", "staff-approve"), ("reject", "staff-reject")] {
                                form method="post" action={ "/web/staff/sign_ups/" (f.id) "/" (what) } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" aria-label=(l.t_with(&format!("{label}-named"), &[("name", &f.handle)])) { (l.t(label)) }
                                }
                            }
                        }
                    }
                }
            }
            @if !queued.is_empty() || state.live().policy.announcer_needs_approval {
                section aria-labelledby="aq-h" {
                    h2 #aq-h { (l.t("staff-announcer-queue")) }
                    p.hint { (l.t("staff-announcer-queue-hint")) }
                    @if queued.is_empty() { p { (l.t("staff-none")) } }
                    @for p in &queued {
                        article.report {
                            div.content { (PreEscaped(&p.content)) }
                            @for (what, label) in [("approve", "staff-approve"), ("reject", "staff-reject")] {
                                form method="post" action={ "/web/staff/announcer_queue/" (p.id) "/" (what) } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" { (l.t(label)) }
                                }
                            }
                        }
                    }
                }
            }
            @if !held.is_empty() || holding {
                section aria-labelledby="hp-h" {
                    h2 #hp-h { (l.t("staff-held")) }
                    p.hint { (l.t("staff-held-hint")) }
                    @if held.is_empty() { p { (l.t("staff-none")) } }
                    @for h in &held {
                        @let acct = &h.account.acct;
                        article.report aria-label={ "@" (acct) } {
                            p { span.acct { "@" (acct) } }
                            @if h.edit { p.hint { (l.t("staff-held-edit")) } }
                            @if !h.spoiler_text.is_empty() { p { strong { (h.spoiler_text) } } }
                            div.content { (PreEscaped(&h.content)) }
                            p.hint { (l.t_with("staff-held-why", &[("codes", &h.codes.join(", "))])) }
                            @let id = &h.id;
                            @for (what, label) in [("release", "staff-release"), ("reject", "staff-reject")] {
                                form method="post" action={ "/web/staff/held_posts/" (id) "/" (what) } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" aria-label={ (l.t(label)) " @" (acct) } { (l.t(label)) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="rn-h" {
                h2 #rn-h { (l.t("staff-real-names")) }
                @if pending.is_empty() { p { (l.t("staff-none")) } }
                ul {
                    @for f in &pending {
                        li {
                            strong { (f.display_name) } " " span.acct { "@" (f.handle) }
                            @for (what, label) in [("verify", "staff-verify"), ("reject", "staff-reject")] {
                                form method="post" action={ "/web/staff/real_names/" (f.id) "/" (what) } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" aria-label=(l.t_with(&format!("{label}-named"), &[("name", &f.display_name)])) { (l.t(label)) }
                                }
                            }
                        }
                    }
                }
            }
            section aria-labelledby="reports-h" {
                h2 #reports-h { (l.t("staff-reports")) }
                @if rows.is_empty() { p { (l.t("staff-none")) } }
                @for (r, target, posts) in &rows {
                    article.report aria-label=(l.t_with("staff-report-about", &[("acct", &target.acct())])) {
                        p {
                            (l.t_with("staff-report-about", &[("acct", &target.acct())]))
                            " · " (l.t(&format!("report-{}", r.category)))
                            @if target.suspended { " · " strong { (l.t("staff-suspended")) } }
                        }
                        @if !r.comment.is_empty() { blockquote { (r.comment) } }
                        @for p in posts {
                            div.content { (PreEscaped(&p.content)) }
                            form method="post" action={ "/web/staff/statuses/" (p.id) "/delete" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button.small.danger type="submit" { (l.t("staff-delete-post")) }
                            }
                        }
                        @if !target.suspended {
                            form method="post" action={ "/web/staff/faces/" (target.id) "/suspend" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button.small.danger type="submit" { (l.t("staff-suspend")) }
                            }
                        }
                        form method="post" action={ "/web/staff/reports/" (r.id) "/resolve" } {
                            input type="hidden" name="csrf" value=(s.csrf);
                            button.small type="submit" { (l.t("staff-resolve")) }
                        }
                    }
                }
            }
            @if let Some(blocked) = &blocked {
                section aria-labelledby="db-h" {
                    h2 #db-h { (l.t("staff-domain-blocks")) }
                    p.hint { (l.t("staff-domain-blocks-hint")) }
                    @if blocked.is_empty() { p { (l.t("staff-none")) } }
                    ul {
                        @for b in blocked {
                            li {
                                strong { (b.domain) } " · " (l.t(&format!("staff-severity-{}", b.severity)))
                                @if !b.public_comment.is_empty() { " · " (b.public_comment) }
                                form method="post" action={ "/web/staff/domain_blocks/" (b.id) "/remove" } {
                                    input type="hidden" name="csrf" value=(s.csrf);
                                    button.small type="submit" aria-label=(l.t_with("staff-unblock-named", &[("name", &b.domain)])) { (l.t("staff-unblock")) }
                                }
                            }
                        }
                    }
                    form method="post" action="/web/staff/domain_blocks" {
                        input type="hidden" name="csrf" value=(s.csrf);
                        label for="db-domain" { (l.t("staff-block-domain")) }
                        input #db-domain type="text" name="domain" required autocomplete="off" placeholder="example.com";
                        label for="db-severity" { (l.t("staff-block-severity")) }
                        select #db-severity name="severity" {
                            @for sev in ["silence", "suspend", "noop"] {
                                option value=(sev) { (l.t(&format!("staff-severity-{sev}"))) }
                            }
                        }
                        label for="db-comment" { (l.t("staff-block-comment")) }
                        input #db-comment type="text" name="public_comment" maxlength="1000";
                        button type="submit" { (l.t("staff-block")) }
                    }
                }
            }
            section aria-labelledby="susp-h" {
                h2 #susp-h { (l.t("staff-suspended-faces")) }
                @if suspended.is_empty() { p { (l.t("staff-none")) } }
                ul {
                    @for f in &suspended {
                        li {
                            span.acct { "@" (f.acct()) }
                            form method="post" action={ "/web/staff/faces/" (f.id) "/unsuspend" } {
                                input type="hidden" name="csrf" value=(s.csrf);
                                button.small type="submit" { (l.t("staff-unsuspend")) }
                            }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub(crate) struct BlockForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    domain: String,
    #[serde(default)]
    severity: String,
    #[serde(default)]
    public_comment: String,
}

/// Blocks a domain from the staff page (admins only).
pub(crate) async fn block_domain(
    req: HttpRequest,
    state: web::Data<AppState>,
    form: web::Form<BlockForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let done = async {
        let staff = may_moderate(&state, &s).await?;
        if !staff.is_admin() {
            return Err(ApiError::forbidden("Only admins block domains"));
        }
        let terms = guise_core::domains::BlockTerms {
            severity: form.severity.clone(),
            public_comment: form.public_comment.trim().to_owned(),
            ..Default::default()
        };
        crate::admin_api::domains::create_block(&state, staff.id, Some(&form.domain), &terms).await
    }
    .await;
    match done {
        Ok(_) => Ok(see_other("/web/staff")),
        Err(e) => Ok(session::refusal(&state, l, &e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

/// One moderation action: `/web/staff/{kind}/{id}/{action}`.
pub(crate) async fn act(
    req: HttpRequest,
    state: web::Data<AppState>,
    path: web::Path<(String, String, String)>,
    form: web::Form<CsrfForm>,
) -> ApiResult<HttpResponse> {
    let (l, s) = match signed_in_form(&req, &state, &form.csrf).await {
        Ok(x) => x,
        Err(refused) => return Ok(refused),
    };
    let account = match may_moderate(&state, &s).await {
        Ok(a) => a,
        Err(e) => return Ok(session::refusal(&state, l, &e)),
    };
    let (kind, id, action) = path.into_inner();
    let id = crate::mastodon_api::parse_id(&id)?;
    let clock = state.clock.as_ref();
    let staff = account.id;
    if kind == "domain_blocks" && action == "remove" {
        let done = if account.is_admin() {
            crate::admin_api::domains::delete_block(&state, staff, id).await
        } else {
            Err(ApiError::forbidden("Only admins lift domain blocks"))
        };
        return match done {
            Ok(()) => Ok(see_other("/web/staff")),
            Err(e) => Ok(session::refusal(&state, l, &e)),
        };
    }
    if kind == "announcer_queue" && matches!(action.as_str(), "approve" | "reject") {
        let approve = action == "approve";
        return match crate::admin_api::announcer::decide(&state, staff, id, approve).await {
            Ok(()) => Ok(see_other("/web/staff")),
            Err(e) => Ok(session::refusal(&state, l, &e)),
        };
    }
    if kind == "held_posts" && matches!(action.as_str(), "release" | "reject") {
        let done = if action == "release" {
            crate::inbox::release_held(&state, staff, id).await
        } else {
            crate::inbox::reject_held(&state, staff, id).await
        };
        return match done {
            Ok(()) => Ok(see_other("/web/staff")),
            Err(e) => Ok(session::refusal(&state, l, &e)),
        };
    }
    if kind == "sign_ups" && matches!(action.as_str(), "approve" | "reject") {
        let approve = action == "approve";
        return match crate::admin_api::accounts::decide_sign_up(&state, staff, id, approve).await {
            Ok(()) => Ok(see_other("/web/staff")),
            Err(e) => Ok(session::refusal(&state, l, &e)),
        };
    }
    let mut conn = state.db.conn().await?;
    // The action and its line in the audit log, in one transaction.
    let done = guise_core::audit::logged(&mut conn, clock, Some(staff), async |c| {
        use guise_core::audit::Target;
        Ok(match (kind.as_str(), action.as_str()) {
            ("real_names", "verify" | "reject") => {
                let verify = action == "verify";
                guise_core::faces::decide_real_name(c, clock, id, verify, state.domain()).await?;
                let what = if verify {
                    "verify_real_name"
                } else {
                    "reject_real_name"
                };
                ((), what, Target::Face(id))
            }
            ("faces", "suspend" | "unsuspend") => {
                let suspend = action == "suspend";
                guise_core::moderation::set_suspended(c, clock, id, suspend).await?;
                let what = if suspend { "suspend" } else { "unsuspend" };
                ((), what, Target::Face(id))
            }
            ("statuses", "delete") => {
                let s = guise_core::moderation::delete_status(c, clock, id).await?;
                let author = s.identity_id;
                ((), "delete_status", Target::Status { id, author })
            }
            ("reports", "resolve") => {
                guise_core::reports::resolve(c, clock, id, Some(staff)).await?;
                ((), "resolve_report", Target::Report(id))
            }
            _ => return Err(guise_core::CoreError::NotFound),
        })
    })
    .await;
    match done {
        Ok(()) => Ok(see_other("/web/staff")),
        Err(e) => Ok(session::refusal(&state, l, &e.into())),
    }
}

/// The link to the staff page, for staff.
pub(crate) fn link(l: Lang) -> maud::Markup {
    html! { a href="/web/staff" { (l.t("staff")) } }
}
