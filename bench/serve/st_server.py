"""bench/serve/st_server.py - the server people write around sentence-transformers: FastAPI and
uvicorn, one model.encode() per request, TEI's POST /embed shape. A peer for bench_serve.py.

  python bench/serve/st_server.py --model models/all-MiniLM-L6-v2 --port 8001 --threads 2
"""

import argparse

import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer


class EmbedRequest(BaseModel):
    inputs: str | list[str]
    normalize: bool = True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = SentenceTransformer(args.model, device="cpu")
    app = FastAPI()

    @app.post("/embed")
    def embed(request: EmbedRequest):  # a plain def: FastAPI runs it on its thread pool
        texts = [request.inputs] if isinstance(request.inputs, str) else request.inputs
        with torch.inference_mode():
            vectors = model.encode(texts, normalize_embeddings=request.normalize)
        return vectors.tolist()

    @app.get("/health")
    def health():
        return {}

    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
