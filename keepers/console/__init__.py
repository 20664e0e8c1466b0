"""The web console served by the keeper (``keeper console``): approvers' pages with wallet
signing, operators' pages, webhook notifications. See docs/operator/console.md."""
