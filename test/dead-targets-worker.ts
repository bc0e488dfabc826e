/** A target worker thread that dies before it serves (as one whose modules fail to load, or out of memory, would). */
throw new Error('this target worker dies at start-up');
