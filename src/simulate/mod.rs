//! The built-in Alipay+ stand-in: a gateway that receives and verifies our
//! notifications and answers as told, and a client that sends signed, varied
//! registrations. Used by `mpp-registrar simulate ...`, the demo walk-through
//! and the tests.

pub mod bench;
pub mod gateway;
pub mod inquiry;
pub mod limits;
pub mod load;
pub mod policy;
pub mod register;

/// A uniformly random number in [0, 1).
pub(crate) fn random_fraction() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.0;
    }
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}
