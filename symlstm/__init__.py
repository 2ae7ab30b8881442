"""symlstm: verified LSTM math."""
