//! The MPI communicator under `mpirun` (cargo feature `mpi`): run as a test,
//! this file starts itself under `mpirun -np 2` and `-np 3`; in each rank
//! it checks every collective against what a single process computes, bit
//! for bit.
#![cfg(feature = "mpi")]

use std::process::Command;

use downhill::train::{Communicator, MpiCommunicator};

/// Rank `r`'s value at `i`: mixed magnitudes, so a different summation
/// order would change the low bits.
fn value(r: usize, i: usize) -> f64 {
    let x = ((r * 7919 + i * 104_729) % 1000) as f64 / 7.0;
    if (r + i).is_multiple_of(3) {
        x * 1e8
    } else {
        x * 1e-3 - 0.5
    }
}

fn ranks_check(c: &MpiCommunicator) {
    let (rank, size) = (c.rank(), c.size());
    for len in [0usize, 1, 7, 1000, 100_003] {
        let mut f64s: Vec<f64> = (0..len).map(|i| value(rank, i)).collect();
        let mut f32s: Vec<f32> = (0..len).map(|i| value(rank, i) as f32).collect();
        c.all_reduce_sum_f64(&mut f64s);
        c.all_reduce_sum_f32(&mut f32s);
        for i in 0..len {
            let (mut want64, mut want32) = (value(0, i), value(0, i) as f32);
            for r in 1..size {
                want64 += value(r, i);
                want32 += value(r, i) as f32;
            }
            assert_eq!(
                f64s[i].to_bits(),
                want64.to_bits(),
                "f64 sum at {i} of {len}"
            );
            assert_eq!(
                f32s[i].to_bits(),
                want32.to_bits(),
                "f32 sum at {i} of {len}"
            );
        }
    }
    for root in [0, size - 1] {
        let mut b32: Vec<f32> = (0..5).map(|i| (rank * 10 + i) as f32).collect();
        let mut b64: Vec<f64> = (0..5).map(|i| (rank * 10 + i) as f64).collect();
        c.broadcast_f32(&mut b32, root);
        c.broadcast_f64(&mut b64, root);
        assert_eq!(
            b32,
            (0..5).map(|i| (root * 10 + i) as f32).collect::<Vec<_>>()
        );
        assert_eq!(
            b64,
            (0..5).map(|i| (root * 10 + i) as f64).collect::<Vec<_>>()
        );
        let mut bytes = if rank == root {
            b"from the root".to_vec()
        } else {
            vec![1; 40]
        };
        c.broadcast_bytes(&mut bytes, root);
        assert_eq!(bytes, b"from the root");
    }
    let all = c.all_gather_f64(&[rank as f64, -(rank as f64)]);
    let want: Vec<f64> = (0..size).flat_map(|r| [r as f64, -(r as f64)]).collect();
    assert_eq!(all, want);
    c.barrier();
    assert_eq!(c.is_root(), rank == 0);
}

#[test]
fn collectives_match_one_process_bit_for_bit() {
    if std::env::var_os("DOWNHILL_MPI_CHILD").is_some() {
        let c = MpiCommunicator::init().expect("MPI initializes");
        let size: usize = std::env::var("OMPI_COMM_WORLD_SIZE")
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(c.size(), size);
        ranks_check(&c);
        return;
    }
    let exe = std::env::current_exe().unwrap();
    for n in ["2", "3"] {
        let out = Command::new("mpirun")
            .args(["--oversubscribe", "-np", n, "-x", "DOWNHILL_MPI_CHILD=1"])
            .arg(&exe)
            .args([
                "--exact",
                "collectives_match_one_process_bit_for_bit",
                "--test-threads",
                "1",
            ])
            .env("OMPI_ALLOW_RUN_AS_ROOT", "1")
            .env("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
            .output()
            .expect("mpirun runs (apt-get install openmpi-bin libopenmpi-dev)");
        assert!(
            out.status.success(),
            "mpirun -np {n} failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let ok = String::from_utf8_lossy(&out.stdout)
            .matches("1 passed")
            .count();
        assert_eq!(ok.to_string(), n, "every rank passed");
    }
}
