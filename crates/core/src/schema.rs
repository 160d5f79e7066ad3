// Diesel's view of migrations/. Kept by hand in the shape `diesel print-schema`
// writes; tests/tidy checks every table and column here against the live schema.

diesel::table! {
    accounts (id) {
        id -> Int8,
        email -> Text,
        password_hash -> Text,
        role -> Text,
        created_on -> Date,
        disabled -> Bool,
        k_anon_salt -> Nullable<Bytea>,
        k_anon_password_wrap -> Nullable<Bytea>,
        k_anon_recovery_wrap -> Nullable<Bytea>,
        anon_cooldown_until -> Nullable<Date>,
        token_epoch -> Int8,
        confirmed -> Bool,
        confirmation_hash -> Nullable<Bytea>,
        confirmation_sent_on -> Nullable<Date>,
        otp_secret -> Nullable<Bytea>,
        otp_salt -> Nullable<Bytea>,
        reset_hash -> Nullable<Bytea>,
        reset_sent_on -> Nullable<Date>,
        approved -> Bool,
        sign_up_reason -> Nullable<Text>,
    }
}

diesel::table! {
    otp_recovery (code_hash) {
        code_hash -> Bytea,
    }
}

diesel::table! {
    identities (id) {
        id -> Int8,
        account_id -> Nullable<Int8>,
        tier -> Text,
        handle -> Text,
        domain -> Nullable<Text>,
        display_name -> Text,
        note -> Text,
        locked -> Bool,
        bot -> Bool,
        discoverable -> Bool,
        verified -> Bool,
        verified_by -> Nullable<Text>,
        actor_url -> Nullable<Text>,
        inbox_url -> Nullable<Text>,
        shared_inbox_url -> Nullable<Text>,
        public_key_pem -> Nullable<Text>,
        private_key_pem -> Nullable<Text>,
        created_on -> Date,
        suspended -> Bool,
        owner_tag -> Nullable<Bytea>,
        owner_nonce -> Nullable<Bytea>,
        thread_tag -> Nullable<Bytea>,
        tombstoned -> Bool,
        real_name_status -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
        header_url -> Nullable<Text>,
        position -> Nullable<Int4>,
        fields -> Jsonb,
        avatar_key -> Nullable<Text>,
        header_key -> Nullable<Text>,
        profile -> Jsonb,
        silenced -> Bool,
    }
}

diesel::table! {
    polls (status_id) {
        status_id -> Int8,
        options -> Jsonb,
        counts -> Jsonb,
        multiple -> Bool,
        hide_totals -> Bool,
        expires_at -> Nullable<Timestamptz>,
        voters_count -> Int8,
        ended -> Bool,
    }
}

diesel::table! {
    poll_votes (status_id, voter) {
        status_id -> Int8,
        voter -> Bytea,
        identity_id -> Nullable<Int8>,
        choices -> Jsonb,
    }
}

diesel::table! {
    media_uploads (id) {
        id -> Int8,
        owner_tag -> Nullable<Bytea>,
        status_id -> Nullable<Int8>,
        kind -> Text,
        content_type -> Text,
        file_key -> Text,
        preview_key -> Text,
        description -> Text,
        blurhash -> Text,
        meta -> Jsonb,
        size_bytes -> Int8,
        created_on -> Date,
        attached -> Bool,
        scheduled_id -> Nullable<Int8>,
    }
}

diesel::table! {
    statuses (id) {
        id -> Int8,
        identity_id -> Int8,
        uri -> Nullable<Text>,
        url -> Nullable<Text>,
        source_text -> Text,
        content -> Text,
        spoiler_text -> Text,
        sensitive -> Bool,
        visibility -> Text,
        language -> Nullable<Text>,
        in_reply_to_id -> Nullable<Int8>,
        in_reply_to_identity_id -> Nullable<Int8>,
        thread_root_id -> Int8,
        reblog_of_id -> Nullable<Int8>,
        local -> Bool,
        created_at -> Timestamptz,
        edited_at -> Nullable<Timestamptz>,
        attachments -> Jsonb,
        emojis -> Jsonb,
    }
}

diesel::table! {
    status_edits (id) {
        id -> Int8,
        status_id -> Int8,
        source_text -> Text,
        content -> Text,
        spoiler_text -> Text,
        sensitive -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    mentions (status_id, identity_id) {
        status_id -> Int8,
        identity_id -> Int8,
        direct -> Bool,
    }
}

diesel::table! {
    status_tags (status_id, name) {
        status_id -> Int8,
        name -> Text,
    }
}

diesel::table! {
    favourites (id) {
        id -> Int8,
        identity_id -> Int8,
        status_id -> Int8,
    }
}

diesel::table! {
    follows (id) {
        id -> Int8,
        identity_id -> Int8,
        target_identity_id -> Int8,
        show_reblogs -> Bool,
        notify -> Bool,
    }
}

diesel::table! {
    follow_requests (id) {
        id -> Int8,
        identity_id -> Int8,
        target_identity_id -> Int8,
        uri -> Nullable<Text>,
    }
}

diesel::table! {
    blocks (id) {
        id -> Int8,
        identity_id -> Int8,
        target_identity_id -> Int8,
    }
}

diesel::table! {
    mutes (id) {
        id -> Int8,
        identity_id -> Int8,
        target_identity_id -> Int8,
        hide_notifications -> Bool,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    notifications (id) {
        id -> Int8,
        identity_id -> Int8,
        from_identity_id -> Int8,
        kind -> Text,
        status_id -> Nullable<Int8>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    preferences (identity_id) {
        identity_id -> Int8,
        default_visibility -> Text,
        default_sensitive -> Bool,
        default_language -> Nullable<Text>,
        anonymous_reach -> Text,
        hide_anonymous -> Bool,
    }
}

diesel::table! {
    oauth_apps (id) {
        id -> Int8,
        name -> Text,
        website -> Nullable<Text>,
        redirect_uris -> Text,
        scopes -> Text,
        client_id -> Text,
        client_secret -> Text,
        created_on -> Date,
    }
}

diesel::table! {
    oauth_codes (id) {
        id -> Int8,
        code_hash -> Bytea,
        app_id -> Int8,
        scopes -> Text,
        redirect_uri -> Text,
        code_challenge -> Nullable<Text>,
        expires_at -> Timestamptz,
        owner -> Bytea,
        k_anon_wrap -> Nullable<Bytea>,
    }
}

diesel::table! {
    oauth_tokens (id) {
        id -> Int8,
        token_hash -> Bytea,
        refresh_hash -> Nullable<Bytea>,
        scopes -> Text,
        created_on -> Date,
        expires_on -> Nullable<Date>,
        k_anon_wrap -> Nullable<Bytea>,
        key_by_token -> Bytea,
        key_by_refresh -> Nullable<Bytea>,
        key_by_k_anon -> Nullable<Bytea>,
        owner -> Bytea,
    }
}

diesel::table! {
    idempotency_keys (identity_id, key_hash) {
        identity_id -> Int8,
        key_hash -> Bytea,
        status_id -> Int8,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    outbox_events (id) {
        id -> Int8,
        kind -> Text,
        payload -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    stream_events (id) {
        id -> Int8,
        kind -> Text,
        payload -> Jsonb,
    }
}

diesel::table! {
    sealed_index (slot) {
        slot -> Bytea,
        payload -> Bytea,
    }
}

diesel::table! {
    sealed_idempotency (key_tag) {
        key_tag -> Bytea,
        status_id -> Int8,
    }
}

diesel::table! {
    identity_stats (identity_id) {
        identity_id -> Int8,
        statuses_count -> Int8,
        followers_count -> Int8,
        following_count -> Int8,
        last_status_on -> Nullable<Date>,
    }
}

diesel::table! {
    audit_log (id) {
        id -> Int8,
        staff_account_id -> Nullable<Int8>,
        action -> Text,
        target_kind -> Text,
        target_id -> Int8,
        face_id -> Nullable<Int8>,
        logged_on -> Date,
    }
}

// Append-only; `identity_id` is not unique (diesel needs a key to name).
// Read and folded by raw SQL in social.rs only.
diesel::table! {
    identity_stat_deltas (identity_id) {
        identity_id -> Int8,
        statuses -> Int8,
        followers -> Int8,
        following -> Int8,
        last_status_on -> Nullable<Date>,
    }
}

diesel::table! {
    key_pool (public_key_pem) {
        public_key_pem -> Text,
        private_key_pem -> Text,
    }
}

diesel::table! {
    instance_keys (name) {
        name -> Text,
        public_key_pem -> Text,
        private_key_pem -> Text,
    }
}

diesel::table! {
    instance_domain_blocks (id) {
        id -> Int8,
        domain -> Text,
        severity -> Text,
        reject_media -> Bool,
        reject_reports -> Bool,
        private_comment -> Text,
        public_comment -> Text,
        obfuscate -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    instance_domain_allows (id) {
        id -> Int8,
        domain -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    report_handling (report_id) {
        report_id -> Int8,
        assigned_account_id -> Nullable<Int8>,
        action_taken_by_account_id -> Nullable<Int8>,
    }
}

diesel::table! {
    incoming_rules (id) {
        id -> Int8,
        kind -> Text,
        pattern -> Text,
        amount -> Nullable<Int8>,
        action -> Text,
        replacement -> Text,
        tiers -> Array<Text>,
        contexts -> Array<Text>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    policy_decisions (id) {
        id -> Int8,
        object_uri -> Text,
        domain -> Text,
        codes -> Array<Text>,
        rejected -> Bool,
        decided_on -> Date,
    }
}

diesel::table! {
    instance_policies (version) {
        version -> Int8,
        policy -> Jsonb,
        made_on -> Date,
    }
}

diesel::table! {
    email_domain_blocks (id) {
        id -> Int8,
        domain -> Text,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    instance_rules (id) {
        id -> Int8,
        text -> Text,
        hint -> Text,
        position -> Int4,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    ip_blocks (id) {
        id -> Int8,
        ip -> Text,
        severity -> Text,
        comment -> Text,
        created_at -> Timestamptz,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    email_domain_block_uses (block_id, day) {
        block_id -> Int8,
        day -> Date,
        uses -> Int4,
    }
}

diesel::table! {
    announcer_queue (status_id) {
        status_id -> Int8,
    }
}

diesel::table! {
    held_posts (id) {
        id -> Int8,
        uri -> Text,
        identity_id -> Int8,
        in_reply_to -> Nullable<Text>,
        note -> Jsonb,
        codes -> Array<Text>,
        held_on -> Date,
    }
}

diesel::table! {
    sensitized_faces (identity_id) {
        identity_id -> Int8,
    }
}

diesel::table! {
    suspension_ends (identity_id) {
        identity_id -> Int8,
        ends_on -> Date,
    }
}

diesel::table! {
    live_versions (name) {
        name -> Text,
        version -> Int8,
    }
}

diesel::table! {
    instance_settings (name) {
        name -> Text,
        value -> Text,
    }
}

diesel::table! {
    inbox_seen (activity_hash) {
        activity_hash -> Bytea,
        seen_on -> Date,
    }
}

diesel::table! {
    deliveries (id) {
        id -> Int8,
        inbox_url -> Text,
        signer_identity_id -> Nullable<Int8>,
        activity -> Jsonb,
        attempts -> Int4,
        first_tried_at -> Nullable<Timestamptz>,
        next_at -> Timestamptz,
        last_error -> Nullable<Text>,
    }
}

diesel::table! {
    hosts (host) {
        host -> Text,
        failed_days -> Array<Int8>,
    }
}

diesel::table! {
    remote_media (url_hash) {
        url_hash -> Bytea,
        url -> Text,
        state -> Text,
        content_type -> Nullable<Text>,
        size -> Int8,
        store_key -> Nullable<Text>,
        attempts -> Int4,
        next_at -> Timestamptz,
        cached_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    pending_deletions (id) {
        id -> Int8,
        status_id -> Int8,
        run_at -> Timestamptz,
    }
}

diesel::table! {
    worker_counts (name) {
        name -> Text,
        value -> Int8,
    }
}

diesel::table! {
    remote_deleted (uri_hash) {
        uri_hash -> Bytea,
        deleted_on -> Date,
    }
}

diesel::table! {
    bookmarks (id) {
        id -> Int8,
        identity_id -> Int8,
        status_id -> Int8,
    }
}

diesel::table! {
    pinned_statuses (identity_id, status_id) {
        identity_id -> Int8,
        status_id -> Int8,
        pinned_at -> Timestamptz,
    }
}

diesel::table! {
    thread_mutes (identity_id, thread_root_id) {
        identity_id -> Int8,
        thread_root_id -> Int8,
    }
}

diesel::table! {
    account_notes (identity_id, target_identity_id) {
        identity_id -> Int8,
        target_identity_id -> Int8,
        comment -> Text,
    }
}

diesel::table! {
    face_domain_blocks (identity_id, domain) {
        identity_id -> Int8,
        domain -> Text,
    }
}

diesel::table! {
    markers (identity_id, timeline) {
        identity_id -> Int8,
        timeline -> Text,
        last_read_id -> Int8,
        version -> Int4,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    reports (id) {
        id -> Int8,
        identity_id -> Nullable<Int8>,
        target_identity_id -> Int8,
        status_ids -> Array<Int8>,
        comment -> Text,
        category -> Text,
        rule_ids -> Array<Int8>,
        forwarded -> Bool,
        created_at -> Timestamptz,
        action_taken_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    lists (id) {
        id -> Int8,
        identity_id -> Int8,
        title -> Text,
        replies_policy -> Text,
        exclusive -> Bool,
    }
}

diesel::table! {
    list_members (list_id, identity_id) {
        list_id -> Int8,
        identity_id -> Int8,
    }
}

diesel::table! {
    followed_tags (identity_id, name) {
        identity_id -> Int8,
        name -> Text,
    }
}

diesel::table! {
    filters (id) {
        id -> Int8,
        identity_id -> Int8,
        title -> Text,
        context -> Array<Text>,
        filter_action -> Text,
        expires_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    filter_keywords (id) {
        id -> Int8,
        filter_id -> Int8,
        keyword -> Text,
        whole_word -> Bool,
    }
}

diesel::table! {
    filter_statuses (id) {
        id -> Int8,
        filter_id -> Int8,
        status_id -> Int8,
    }
}

diesel::table! {
    conversation_reads (identity_id, thread_root_id) {
        identity_id -> Int8,
        thread_root_id -> Int8,
        last_read_id -> Int8,
        hidden -> Bool,
    }
}

diesel::table! {
    scheduled_statuses (id) {
        id -> Int8,
        identity_id -> Int8,
        scheduled_at -> Timestamptz,
        params -> Jsonb,
    }
}

diesel::table! {
    announcements (id) {
        id -> Int8,
        text -> Text,
        starts_at -> Nullable<Timestamptz>,
        ends_at -> Nullable<Timestamptz>,
        all_day -> Bool,
        published_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    announcement_dismissals (identity_id, announcement_id) {
        identity_id -> Int8,
        announcement_id -> Int8,
    }
}

diesel::table! {
    announcement_reactions (announcement_id, identity_id, name) {
        announcement_id -> Int8,
        identity_id -> Int8,
        name -> Text,
    }
}

diesel::table! {
    push_subscriptions (id) {
        id -> Int8,
        token_tag -> Bytea,
        account_id -> Int8,
        identity_id -> Nullable<Int8>,
        epoch -> Int8,
        expires_on -> Nullable<Date>,
        endpoint -> Text,
        p256dh -> Bytea,
        auth -> Bytea,
        standard -> Bool,
        alerts -> Array<Text>,
        policy -> Text,
    }
}

diesel::table! {
    push_deliveries (subscription_id, notification_id) {
        subscription_id -> Int8,
        notification_id -> Int8,
        attempts -> Int4,
        next_at -> Timestamptz,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    accounts,
    audit_log,
    identities,
    statuses,
    status_edits,
    mentions,
    status_tags,
    favourites,
    follows,
    follow_requests,
    blocks,
    mutes,
    notifications,
    preferences,
    oauth_apps,
    oauth_codes,
    oauth_tokens,
    idempotency_keys,
    outbox_events,
    media_uploads,
    polls,
    poll_votes,
    stream_events,
    sealed_index,
    sealed_idempotency,
    identity_stats,
    key_pool,
    instance_keys,
    instance_settings,
    instance_domain_blocks,
    instance_domain_allows,
    live_versions,
    announcer_queue,
    held_posts,
    email_domain_block_uses,
    sensitized_faces,
    suspension_ends,
    ip_blocks,
    instance_rules,
    email_domain_blocks,
    instance_policies,
    incoming_rules,
    policy_decisions,
    report_handling,
    otp_recovery,
    push_subscriptions,
    push_deliveries,
    inbox_seen,
    deliveries,
    hosts,
    remote_media,
    pending_deletions,
    worker_counts,
    remote_deleted,
    bookmarks,
    pinned_statuses,
    thread_mutes,
    account_notes,
    face_domain_blocks,
    markers,
    reports,
    lists,
    list_members,
    followed_tags,
    filters,
    filter_keywords,
    filter_statuses,
    conversation_reads,
    scheduled_statuses,
    announcements,
    announcement_dismissals,
    announcement_reactions,
);
