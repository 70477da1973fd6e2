"""Write a table of 3,000 applicants with two text columns and an integer code whose levels
carry the risk, a numeric column that carries none, and a good/bad label (for the CI check of
a categorical scorecard's SQL): `python .ci/categorical_table.py OUT.csv`."""

import math
import random
import sys

random.seed(7)
regions = [("north", -1.5), ("south", 1.2), ("east", 0.0), ("west", 0.4)]
with open(sys.argv[1], "w") as f:
    f.write("applicant,region,grade,income,risk\n")
    for a in range(3000):
        region, r = ("islands", 2.0) if a % 300 == 7 else random.choice(regions)
        grade = random.randint(1, 4)
        z = -1.6 + r + [0.0, -0.8, 1.6, 0.2][grade - 1]
        bad = random.random() < 1 / (1 + math.exp(-z))
        region = "" if a % 97 == 0 else region
        f.write(f"P{a:05},{region},{grade},{20 + random.random() * 80:.1f},{'bad' if bad else 'good'}\n")
