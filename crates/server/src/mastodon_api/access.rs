//! Which token may do what: one table, read by every handler it names and
//! printed in docs/api.md (a test keeps the two the same).
//!
//! A face-bound token acts as its face. An "Anonymous" token writes only
//! through anonymous faces and what names nobody; where an app only reads,
//! it gets a neutral answer (defaults, empty lists, all-false), never 422,
//! and everything that would write a row tied to a login or a persistent
//! face gets 422. An "All my faces" token acts as the login's first face
//! where a request names none. Markers of "Anonymous" and "All my faces"
//! tokens name anonymous faces' notifications, so they are sealed under
//! `k_anon` and kept out of the database.

use crate::error::{ApiError, ApiResult};
use crate::extract::Auth;
use guise_core::oauth::Binding;

/// What a token is bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    Face,
    Anonymous,
    All,
}

/// How a group of endpoints answers a kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// As Mastodon does, as the token's face (or faces).
    Normal,
    /// A neutral answer: defaults, empty lists, all-false relationships.
    Neutral,
    /// Kept sealed under `k_anon`, outside the database.
    Sealed,
    /// 422: it would write a row tied to the login or a persistent face.
    Refused,
}

/// Endpoint groups, as docs/api.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    WhoIAm,
    ProfileEdits,
    Preferences,
    Posting,
    Favouriting,
    FavouritesList,
    Reblogging,
    BookmarksList,
    Bookmarking,
    Pinning,
    ThreadMutes,
    RelationshipsRead,
    RelationsWrite,
    RelationLists,
    Markers,
    Notifications,
    HomeTimeline,
    Reports,
    ListsRead,
    ListsWrite,
    TagsRead,
    TagsWrite,
    FiltersRead,
    FiltersWrite,
    Conversations,
    ScheduledRead,
    ScheduledWrite,
    Announcements,
    AnnouncementReactions,
    Streaming,
    Media,
    Voting,
    PushRead,
    PushWrite,
}

use Answer::*;
use Group::*;

impl Group {
    pub const ALL: &'static [Group] = &[
        WhoIAm,
        ProfileEdits,
        Preferences,
        Posting,
        Favouriting,
        FavouritesList,
        Reblogging,
        BookmarksList,
        Bookmarking,
        Pinning,
        ThreadMutes,
        RelationshipsRead,
        RelationsWrite,
        RelationLists,
        Markers,
        Notifications,
        HomeTimeline,
        Reports,
        ListsRead,
        ListsWrite,
        TagsRead,
        TagsWrite,
        FiltersRead,
        FiltersWrite,
        Conversations,
        ScheduledRead,
        ScheduledWrite,
        Announcements,
        AnnouncementReactions,
        Streaming,
        Media,
        Voting,
        PushRead,
        PushWrite,
    ];

    /// The endpoints of the group, for the table in docs/api.md.
    pub fn endpoints(self) -> &'static str {
        match self {
            WhoIAm => "`GET accounts/verify_credentials`",
            ProfileEdits => "`PATCH accounts/update_credentials`",
            Preferences => "`GET preferences`",
            Posting => "`POST`, `PUT`, `DELETE statuses`",
            Favouriting => "`POST statuses/:id/favourite`, `unfavourite`",
            FavouritesList => "`GET favourites`",
            Reblogging => "`POST statuses/:id/reblog`, `unreblog`",
            BookmarksList => "`GET bookmarks`",
            Bookmarking => "`POST statuses/:id/bookmark`, `unbookmark`",
            Pinning => "`POST statuses/:id/pin`, `unpin`",
            ThreadMutes => "`POST statuses/:id/mute`, `unmute`",
            RelationshipsRead => "`GET accounts/relationships`",
            RelationsWrite => {
                "follow, unfollow, block, unblock, mute, unmute, `note`, follow request answers, `POST`/`DELETE domain_blocks`"
            }
            RelationLists => "`GET blocks`, `mutes`, `follow_requests`, `domain_blocks`",
            Markers => "`GET`/`POST markers`",
            Notifications => "`notifications` (v1 and grouped v2)",
            HomeTimeline => "`GET timelines/home`",
            Reports => "`POST reports`",
            ListsRead => "`GET lists`, `lists/:id`, `lists/:id/accounts`, `accounts/:id/lists`, `timelines/list/:id`",
            ListsWrite => "`POST`, `PUT`, `DELETE lists`, list members",
            TagsRead => "`GET followed_tags`; `following` in `GET tags/:name`",
            TagsWrite => "`POST tags/:name/follow`, `unfollow`",
            FiltersRead => "`GET filters` (v1 and v2), their keywords and statuses",
            FiltersWrite => "`POST`, `PUT`, `DELETE filters` (v1 and v2), their keywords and statuses",
            Conversations => "`GET conversations`, `POST conversations/:id/read`, `DELETE conversations/:id`",
            ScheduledRead => "`GET scheduled_statuses`, `scheduled_statuses/:id`",
            ScheduledWrite => "`POST statuses` with `scheduled_at`; `PUT`, `DELETE scheduled_statuses/:id`",
            Announcements => "`GET announcements`, `POST announcements/:id/dismiss`",
            AnnouncementReactions => "`PUT`, `DELETE announcements/:id/reactions/:name`",
            Streaming => "`streaming` (WebSocket and server-sent events)",
            Media => "`POST media` (v1 and v2), `GET`, `PUT`, `DELETE media/:id`",
            Voting => "`POST polls/:id/votes`",
            PushRead => "`GET push/subscription`",
            PushWrite => "`POST`, `PUT`, `DELETE push/subscription`",
        }
    }

    /// What the answer means for this group, where it is not plain.
    fn note(self, kind: TokenKind) -> &'static str {
        match (self, kind) {
            (WhoIAm, TokenKind::Anonymous) => "a made-up \"Anonymous\" account",
            (Posting | Favouriting, TokenKind::Anonymous) => "through per-thread anonymous faces",
            (FavouritesList, TokenKind::Anonymous) => "its anonymous faces' favourites",
            (Preferences, TokenKind::Anonymous) => "the defaults",
            (RelationshipsRead, TokenKind::Anonymous) => "all false",
            (
                BookmarksList | RelationLists | ListsRead | TagsRead | FiltersRead,
                TokenKind::Anonymous,
            ) => "empty",
            (Conversations, TokenKind::Anonymous) => {
                "its anonymous faces'; what it read under `k_anon`, not in the database"
            }
            (Announcements, TokenKind::Anonymous) => {
                "dismissals under `k_anon`, not in the database"
            }
            (Markers, TokenKind::Anonymous | TokenKind::All) => {
                "under `k_anon`, not in the database"
            }
            (Notifications, TokenKind::Anonymous) => "its anonymous faces'",
            (Notifications, TokenKind::All) => "every face's",
            (Posting, TokenKind::All) => "any face, picked per post",
            (HomeTimeline, TokenKind::Anonymous) => "its own anonymous posts",
            (Streaming, TokenKind::Anonymous) => {
                "`user`: its anonymous faces' notifications and its own anonymous posts; no lists; held in memory only"
            }
            (Voting, TokenKind::Anonymous) => {
                "one vote per poll across its anonymous faces, kept under `HMAC(k_anon, \"vote\" ‖ poll)`"
            }
            (Media, _) => {
                "owned by a capability only the uploading token yields, until a post attaches it"
            }
            (PushRead, TokenKind::Anonymous) => "404, as for a token without a subscription",
            (PushWrite, TokenKind::Anonymous) => {
                "anonymous faces get no push: it would need a stored link to you"
            }
            (PushRead | PushWrite, TokenKind::All) => {
                "notifications of every persistent face, none of the anonymous ones"
            }
            (PushRead | PushWrite, TokenKind::Face) => {
                "the subscription is named only by a tag the token's sealed row yields"
            }
            (Streaming, TokenKind::All) => {
                "`user`: the first face's home and every face's notifications"
            }
            (_, TokenKind::All) => "as the first face",
            _ => "",
        }
    }
}

/// The table.
pub fn answer(kind: TokenKind, group: Group) -> Answer {
    match (kind, group) {
        (TokenKind::Face, _) => Normal,
        (TokenKind::All, Markers) => Sealed,
        (TokenKind::All, _) => Normal,
        (TokenKind::Anonymous, g) => match g {
            WhoIAm | Preferences | BookmarksList | RelationshipsRead | RelationLists
            | ListsRead | TagsRead | FiltersRead | ScheduledRead | PushRead => Neutral,
            Posting | Favouriting | FavouritesList | Notifications | HomeTimeline | Streaming
            | Media | Voting => Normal,
            Markers | Conversations | Announcements => Sealed,
            ProfileEdits
            | Reblogging
            | Bookmarking
            | Pinning
            | ThreadMutes
            | RelationsWrite
            | Reports
            | ListsWrite
            | TagsWrite
            | FiltersWrite
            | ScheduledWrite
            | AnnouncementReactions
            | PushWrite => Refused,
        },
    }
}

impl Auth {
    pub fn kind(&self) -> Option<TokenKind> {
        match self.binding()? {
            Binding::Face(_) => Some(TokenKind::Face),
            Binding::Anonymous => Some(TokenKind::Anonymous),
            Binding::All => Some(TokenKind::All),
        }
    }

    /// How this token is answered for `group` (with `scope` granted), or
    /// 422 for what it may not do, 403 outside its scopes.
    pub fn answer(&self, group: Group, scope: &str) -> ApiResult<Answer> {
        self.require(scope)?;
        let Some(kind) = self.kind() else {
            return Err(ApiError::unprocessable(
                "This method requires an authenticated user",
            ));
        };
        match answer(kind, group) {
            Refused => Err(ApiError::unprocessable(
                "An anonymous token cannot do this: it would write a row tied to your account",
            )),
            a => Ok(a),
        }
    }
}

fn cell(kind: TokenKind, group: Group) -> String {
    let word = match answer(kind, group) {
        Normal => "yes",
        Neutral => "neutral",
        Sealed => "sealed",
        Refused => "422",
    };
    match group.note(kind) {
        "" => word.to_owned(),
        n => format!("{word}: {n}"),
    }
}

/// The table as docs/api.md prints it.
pub fn markdown() -> String {
    let mut out =
        String::from("| endpoints | one face | Anonymous | All my faces |\n|---|---|---|---|\n");
    for g in Group::ALL {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            g.endpoints(),
            cell(TokenKind::Face, *g),
            cell(TokenKind::Anonymous, *g),
            cell(TokenKind::All, *g)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table as a table: every cell that matters, spelled out.
    #[test]
    fn the_table() {
        use TokenKind::*;
        let cases = [
            (Face, Markers, Normal),
            (Anonymous, Markers, Sealed),
            (All, Markers, Sealed),
            (Anonymous, Conversations, Sealed),
            (All, Conversations, Normal),
            (Anonymous, ScheduledWrite, Refused),
            (Anonymous, ScheduledRead, Neutral),
            (Anonymous, Announcements, Sealed),
            (Anonymous, AnnouncementReactions, Refused),
            (Anonymous, WhoIAm, Neutral),
            (Anonymous, Preferences, Neutral),
            (Anonymous, RelationshipsRead, Neutral),
            (Anonymous, RelationLists, Neutral),
            (Anonymous, BookmarksList, Neutral),
            (Anonymous, Posting, Normal),
            (Anonymous, Favouriting, Normal),
            (Anonymous, Notifications, Normal),
            (Anonymous, Bookmarking, Refused),
            (Anonymous, RelationsWrite, Refused),
            (Anonymous, Reblogging, Refused),
            (Anonymous, Pinning, Refused),
            (Anonymous, Reports, Refused),
            (Anonymous, ProfileEdits, Refused),
            (All, RelationsWrite, Normal),
            (Face, Reports, Normal),
        ];
        for (kind, group, want) in cases {
            assert_eq!(answer(kind, group), want, "{kind:?} {group:?}");
        }
        // No read is ever refused to an Anonymous token.
        for g in [
            WhoIAm,
            Preferences,
            FavouritesList,
            BookmarksList,
            RelationshipsRead,
            RelationLists,
            Markers,
            Notifications,
            HomeTimeline,
            Streaming,
        ] {
            assert_ne!(answer(Anonymous, g), Refused, "{g:?}");
        }
    }

    #[test]
    fn docs_api_md_prints_the_table() {
        let docs =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/api.md"))
                .unwrap_or_default();
        let table = markdown();
        assert!(
            docs.contains(&table),
            "docs/api.md must hold the access table as printed:\n{table}"
        );
    }
}
