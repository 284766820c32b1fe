//! Kernel error numbers, negated as the kernel returns them.

/// `-EIO`.
pub const EIO: i32 = -5;
/// `-EAGAIN`.
pub const EAGAIN: i32 = -11;
/// `-ENOMEM`.
pub const ENOMEM: i32 = -12;
/// `-EFAULT`.
pub const EFAULT: i32 = -14;
/// `-EBUSY`.
pub const EBUSY: i32 = -16;
/// `-EEXIST`.
pub const EEXIST: i32 = -17;
/// `-EINVAL`.
pub const EINVAL: i32 = -22;
/// `-EIOCBQUEUED`: the request is queued and completes later.
pub const EIOCBQUEUED: i32 = -529;

/// The errno's name, e.g. `-EAGAIN`, or the number for others.
pub fn name(rc: i32) -> String {
    match rc {
        0 => "0".into(),
        EIO => "-EIO".into(),
        EAGAIN => "-EAGAIN".into(),
        ENOMEM => "-ENOMEM".into(),
        EFAULT => "-EFAULT".into(),
        EBUSY => "-EBUSY".into(),
        EEXIST => "-EEXIST".into(),
        EINVAL => "-EINVAL".into(),
        n => n.to_string(),
    }
}
