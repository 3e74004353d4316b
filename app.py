"""Build the web app (Gradio page + REST API) from settings: `uvicorn app:app`, or `python app.py`."""

from chatbot.config import Settings
from chatbot.web import create_app

settings = Settings.load()
app = create_app(settings)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=settings.host, port=settings.port)
