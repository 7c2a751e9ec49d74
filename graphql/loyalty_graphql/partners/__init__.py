"""Partners and their stores: the public partner list, a partner host's own partner and stores."""
