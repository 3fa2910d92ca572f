use std::time::Instant;
fn time<F: FnMut()>(mut f: F) -> f64 {
    for _ in 0..3 { f(); }
    let mut best = f64::MAX;
    for _ in 0..3 {
        let t = Instant::now();
        for _ in 0..5 { f(); }
        best = best.min(t.elapsed().as_secs_f64() / 5.0);
    }
    best
}
fn main() {
    rayon::ThreadPoolBuilder::new().num_threads(2).build_global().unwrap();
    for &(m, k, n) in &[(2048usize, 2048usize, 2048usize), (128, 784, 512), (128, 512, 256), (32, 64, 32)] {
        let a: Vec<f32> = (0..m * k).map(|i| (i % 7) as f32 * 0.1).collect();
        let b: Vec<f32> = (0..k * n).map(|i| (i % 5) as f32 * 0.1).collect();
        let mut c = vec![0.0f32; m * n];
        let flops = 2.0 * (m * n * k) as f64;
        let par = if m * n * k >= 1 << 18 { gemm::Parallelism::Rayon(2) } else { gemm::Parallelism::None };
        let tg = time(|| unsafe {
            gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), 1, k as isize, b.as_ptr(), 1, n as isize, 1.0, 1.0, false, false, false, par)
        });
        let tm = time(|| unsafe {
            matrixmultiply::sgemm(m, k, n, 1.0, a.as_ptr(), k as isize, 1, b.as_ptr(), n as isize, 1, 0.0, c.as_mut_ptr(), n as isize, 1)
        });
        let fa = faer::Mat::<f32>::from_fn(m, k, |i, j| a[i * k + j]);
        let fb = faer::Mat::<f32>::from_fn(k, n, |i, j| b[i * n + j]);
        let mut fc = faer::Mat::<f32>::zeros(m, n);
        let fpar = if m * n * k >= 1 << 18 { faer::Par::rayon(2) } else { faer::Par::Seq };
        let tf = time(|| faer::linalg::matmul::matmul(fc.as_mut(), faer::Accum::Replace, fa.as_ref(), fb.as_ref(), 1.0, fpar));
        println!("{m}x{k}x{n}: gemm {:.1}  matrixmultiply {:.1}  faer {:.1} GFLOP/s", flops / tg / 1e9, flops / tm / 1e9, flops / tf / 1e9);
    }
}
