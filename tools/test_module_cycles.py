#!/usr/bin/env python3
"""Self-test of tools/module_cycles.py: small workspaces written to a
temporary directory, each with a known module map, and the exit status and
report the script gives on them.

    python3 tools/test_module_cycles.py
"""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "module_cycles.py")


def run(files):
    """Writes `files` ({path: text}) under a fresh root; the script's exit
    status and output on it."""
    with tempfile.TemporaryDirectory() as root:
        files = {"crates/downhill-cli/src/main.rs": "mod a;\n", "crates/downhill-cli/src/a.rs": "",
                 **files}
        for path, text in files.items():
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w", encoding="utf-8") as f:
                f.write(text)
        p = subprocess.run([sys.executable, SCRIPT, "--root", root], capture_output=True, text=True)
        return p.returncode, p.stdout


LIB = "crates/downhill/src/"
CLI = "crates/downhill-cli/src/"


class ModuleCycles(unittest.TestCase):
    def test_a_layered_crate_has_no_cycle(self):
        code, out = run({
            LIB + "lib.rs": "pub mod data;\npub mod loss;\n",
            LIB + "data.rs": "pub struct Target;\n",
            LIB + "loss.rs": "use crate::data::Target;\n",
        })
        self.assertEqual(code, 0, out)
        self.assertIn("no cycles", out)

    def test_a_top_level_cycle_fails_and_names_both_edges(self):
        code, out = run({
            LIB + "lib.rs": "pub mod data;\npub mod loss;\n",
            LIB + "data.rs": "use crate::loss::Loss;\npub struct Target;\n",
            LIB + "loss.rs": "use crate::data::Target;\npub struct Loss;\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("downhill top-level: cycle ['data', 'loss']", out)
        self.assertIn("data → loss", out)
        self.assertIn("loss → data", out)

    def test_a_cycle_between_files_through_a_reexport_fails(self):
        # epoch names `super::Trainer`, re-exported by mod.rs from trainer.rs.
        code, out = run({
            LIB + "lib.rs": "pub mod train;\n",
            LIB + "train/mod.rs": "mod epoch;\nmod trainer;\npub use trainer::{Trainer};\n",
            LIB + "train/trainer.rs": "use super::epoch::EpochSummary;\npub struct Trainer;\n",
            LIB + "train/epoch.rs": "use super::Trainer;\npub struct EpochSummary;\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("downhill train/: cycle ['train::epoch', 'train::trainer']", out)

    def test_uses_in_tests_and_comments_are_not_edges(self):
        code, out = run({
            LIB + "lib.rs": "pub mod data;\npub mod loss;\n",
            LIB + "data.rs": "/// See [`crate::loss::Loss`].\npub struct Target;\n"
                             "#[cfg(test)]\nmod tests { use crate::loss::Loss; }\n",
            LIB + "loss.rs": "use crate::data::Target;\npub struct Loss;\n",
        })
        self.assertEqual(code, 0, out)

    def test_a_cycle_between_cli_modules_fails(self):
        code, out = run({
            CLI + "main.rs": "mod config;\nmod train;\n",
            CLI + "config.rs": "use crate::train::TrainArgs;\n",
            CLI + "train.rs": "pub struct TrainArgs;\nfn f() { crate::config::apply(); }\n",
        })
        self.assertEqual(code, 1, out)
        self.assertIn("downhill-cli: cycle ['config', 'train']", out)

    def test_the_graph_types_cycle_is_allowed(self):
        code, out = run({
            LIB + "lib.rs": "pub mod tensor;\npub mod autograd;\n",
            LIB + "tensor.rs": "use crate::autograd::Node;\npub struct Tensor;\n",
            LIB + "autograd.rs": "use crate::tensor::Tensor;\npub struct Node;\n",
        })
        self.assertEqual(code, 0, out)
        self.assertIn("(known, left to another issue)", out)


if __name__ == "__main__":
    unittest.main()
