"""The index and its queries: points and filters, the vector store, search (text, sound, photo,
hybrid), identification, trait lookup, agile classifiers, detections."""
