//! fix-agent-pr (filled in below).
