//! Root filesystems: building one, chroot, pivot_root (chapters 01-02).
