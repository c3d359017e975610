"""Writes the digits test set as a C header (test_x, test_y) for accuracy.c.

usage: make_test_set.py TEST.npz OUT.h
"""
import sys

import numpy as np


def main():
    data = np.load(sys.argv[1])
    x, y = data["X"].astype(np.float32), data["y"].astype(int)
    with open(sys.argv[2], "w") as f:
        f.write("/* The %d digits test images (8x8, pixel / 16) and their labels. */\n" % len(y))
        f.write("#define TEST_COUNT %d\n#define TEST_PIXELS %d\n" % x.shape)
        f.write("static const float test_x[TEST_COUNT][TEST_PIXELS] = {\n")
        for row in x:
            f.write("    {" + ", ".join(repr(float(v)) + "f" for v in row) + "},\n")
        f.write("};\nstatic const unsigned char test_y[TEST_COUNT] = {" + ", ".join(str(v) for v in y) + "};\n")


if __name__ == "__main__":
    main()
