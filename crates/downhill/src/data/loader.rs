//! [`DataLoader`]: the order in which samples are visited, batch by batch.

use serde::{Deserialize, Serialize};

use crate::Generator;

/// How many samples per step: the whole set (full-batch gradient descent),
/// or `n` (1 = stochastic, otherwise mini-batch).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchSize {
    /// Every sample in one batch.
    Full,
    /// This many samples per batch.
    Size(usize),
}

impl std::str::FromStr for BatchSize {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.eq_ignore_ascii_case("full") {
            return Ok(BatchSize::Full);
        }
        match s.trim().parse::<usize>() {
            Ok(0) => Err("must be at least 1 (or \"full\")".into()),
            Ok(n) => Ok(BatchSize::Size(n)),
            Err(_) => Err(format!("expected \"full\" or a whole number, got {s:?}")),
        }
    }
}

impl std::fmt::Display for BatchSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchSize::Full => f.write_str("full"),
            BatchSize::Size(n) => write!(f, "{n}"),
        }
    }
}

/// Splits `0..len` into batches, reshuffled every epoch from its own seeded
/// generator (PyTorch's `DataLoader(shuffle=True, drop_last=...)` over
/// indices). Its state is plain data, so a resumed run sees the same order.
///
/// ```
/// use downhill::data::{BatchSize, DataLoader};
/// let mut dl = DataLoader::new(10, BatchSize::Size(4), true, false, 7);
/// let batches: Vec<Vec<usize>> = dl.epoch().map(|b| b.to_vec()).collect();
/// assert_eq!(batches.iter().map(|b| b.len()).collect::<Vec<_>>(), vec![4, 4, 2]);
/// let mut all: Vec<usize> = batches.concat();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct DataLoader {
    len: usize,
    batch: usize,
    shuffle: bool,
    drop_last: bool,
    generator: Generator,
    order: Vec<usize>,
}

impl DataLoader {
    /// A loader over `len` samples.
    ///
    /// **Panics** if `batch_size` is `Size(0)`.
    pub fn new(
        len: usize,
        batch_size: BatchSize,
        shuffle: bool,
        drop_last: bool,
        seed: u64,
    ) -> Self {
        let batch = match batch_size {
            BatchSize::Full => len.max(1),
            BatchSize::Size(0) => panic!("DataLoader: batch size must be at least 1"),
            BatchSize::Size(n) => n,
        };
        DataLoader {
            len,
            batch,
            shuffle,
            drop_last,
            generator: Generator::new(seed),
            order: (0..len).collect(),
        }
    }

    /// Samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch
    }

    /// Batches per epoch.
    pub fn num_batches(&self) -> usize {
        if self.drop_last {
            self.len / self.batch
        } else {
            self.len.div_ceil(self.batch)
        }
    }

    /// Starts an epoch: reshuffles (if shuffling) and yields the batches'
    /// sample indices.
    pub fn epoch(&mut self) -> impl Iterator<Item = &[usize]> + '_ {
        if self.shuffle {
            // Fresh permutation each epoch from the generator alone, so the
            // order does not depend on the previous one (PyTorch's randperm).
            for (i, v) in self.order.iter_mut().enumerate() {
                *v = i;
            }
            self.generator.shuffle(&mut self.order);
        }
        let n = self.num_batches();
        self.order.chunks(self.batch).take(n)
    }
}
