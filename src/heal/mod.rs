//! Self-heal: policy gates (decide) and named safe actions (execute). (Skeleton.)
