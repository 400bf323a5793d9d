//! Hardening: what stops root in a container (chapter 08).
