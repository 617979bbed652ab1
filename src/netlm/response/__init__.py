"""Response assessment over time: RECIST 1.1, mRECIST, WHO, EASL, Choi, PERCIST.

The response file (``netlm/response/v1``: ``model.py``, read by ``io.py``), one
engine per criterion, the best overall response and endpoints, and the report that
assesses a file by every criterion (SSTR PET exploratory, not classified).
"""
