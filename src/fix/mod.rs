//! Fix-agent: instructions, the guard, diffs, validation and PR text. (Skeleton.)
