//! Kernels compiled for the widest vector unit the CPU has.
//!
//! The crate is built for baseline x86-64 (SSE2, four `f32` lanes), so a
//! loop of our own vectorizes four lanes wide even on a CPU with AVX-512
//! (sixteen). [`wide_copies!`] defines a function that calls an
//! `#[inline(always)]` kernel through a copy of itself compiled with
//! AVX-512F or AVX2 enabled, chosen at each call from the CPU's features
//! (std caches the CPUID answer, so the check is a load and a test). The
//! kernel is inlined into each copy, so its loops vectorize to the wider
//! registers.
//!
//! Results do not change: every lane computes the same IEEE operation the
//! scalar code does (Rust never contracts `a * b + c` into a fused
//! multiply-add, and a floating-point sum is not reordered without
//! fast-math, so reductions stay sequential). Only elementwise loops get
//! wider.

/// Defines `fn $name<generics>(args) -> ret` that runs the
/// `#[inline(always)]` function `$kernel::<generic args>(args)` compiled for
/// AVX-512F, else AVX2, else the baseline, whichever the CPU has:
///
/// ```ignore
/// wide_copies!(fn axpy[T: Element](a: T, x: &[T], y: &mut [T]) = axpy_kernel[T]);
/// ```
macro_rules! wide_copies {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident [$($gen:tt)*] ($($arg:ident : $ty:ty),* $(,)?) $(-> $ret:ty)?
        = $kernel:ident [$($kgen:tt)*]
    ) => {
        $(#[$meta])*
        #[allow(clippy::too_many_arguments)]
        $vis fn $name<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx512<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                    $kernel::<$($kgen)*>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn avx2<$($gen)*>($($arg: $ty),*) $(-> $ret)? {
                    $kernel::<$($kgen)*>($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F (checked just
                    // above), the only requirement of calling a function
                    // compiled with it.
                    return unsafe { avx512::<$($kgen)*>($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2 (checked just above).
                    return unsafe { avx2::<$($kgen)*>($($arg),*) };
                }
            }
            $kernel::<$($kgen)*>($($arg),*)
        }
    };
}
pub(crate) use wide_copies;

#[cfg(test)]
mod tests {
    use crate::Element;

    #[inline(always)]
    fn kernel<T: Element>(x: &[T], y: &[T], out: &mut [T]) -> T {
        let n = out.len();
        let (x, y) = (&x[..n], &y[..n]);
        for i in 0..n {
            let (a, b) = (x[i], y[i]);
            out[i] = (a * b + a / b).sqrt() - b * T::from_f64(0.5);
        }
        out.iter().fold(T::ZERO, |s, &v| s + v * v)
    }

    wide_copies!(fn wide[T: Element](x: &[T], y: &[T], out: &mut [T]) -> T = kernel[T]);

    #[test]
    fn the_wide_copy_computes_what_the_plain_one_does() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 3.0).collect();
        let y: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.11).cos() + 2.0).collect();
        let (mut plain, mut wide_out) = (vec![0.0; 1000], vec![0.0; 1000]);
        let s = kernel(&x, &y, &mut plain);
        let w = wide(&x, &y, &mut wide_out);
        assert!(plain
            .iter()
            .zip(&wide_out)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        assert_eq!(s.to_bits(), w.to_bits());
    }
}
