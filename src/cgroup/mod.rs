//! Cgroups: create, limit, place, clean up, on v1, v2 and hybrid hosts (chapter 04). Being written.
