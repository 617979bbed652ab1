"""Response assessment over time: RECIST 1.1, mRECIST, WHO, EASL, Choi, PERCIST."""
