// A merchant's page that embeds the Bridge widget exactly as integrators do:
// the published <StraddleBridge> component, pointed at our server with
// `appUrl`. The query string supplies the bridge token, the server origin
// and whether manual entry is allowed; every callback is recorded in
// `window.__bridgeEvents` (read by the test) and listed on the page.
import { useState } from 'react';
import { createRoot } from 'react-dom/client';
import { StraddleBridge } from '@straddlecom/bridge-react';
import './host.css';

const params = new URLSearchParams(window.location.search);
window.__bridgeEvents = [];

function App() {
  const [events, setEvents] = useState([]);
  const [open, setOpen] = useState(true);
  const record = (name, payload) => {
    const event = { name, payload };
    window.__bridgeEvents.push(event);
    setEvents((list) => [...list, event]);
  };
  const closeWith = (name) => () => {
    record(name);
    setOpen(false);
  };
  return (
    <main className="shop">
      <header className="shop-bar">Acme Tutoring</header>
      <h1>Payment settings</h1>
      <p>Link the bank account your monthly tuition is paid from.</p>
      <button type="button" onClick={() => setOpen(true)}>Link a bank account</button>
      <h2>Bridge events</h2>
      <ol id="events">
        {events.map((event, index) => (
          <li key={index}>
            <strong>{event.name}</strong> {event.payload ? JSON.stringify(summary(event)) : ''}
          </li>
        ))}
      </ol>
      <StraddleBridge
        appUrl={params.get('appUrl')}
        token={params.get('token')}
        open={open}
        allowManualEntry={params.get('manual') === 'true'}
        onSuccess={(response) => record('success', response)}
        onSuccessCTAClicked={closeWith('successCTAClicked')}
        onClose={closeWith('close')}
        onLoadError={(error) => record('loadError', { error_code: error.error_code, message: error.message, origin: error.origin })}
        onManualEntry={() => record('manualEntry')}
        onRetry={() => record('retry')}
        className="bridge-frame"
      />
    </main>
  );
}

function summary(event) {
  const data = event.payload.data;
  return data ? { id: data.id, source: data.source, status: data.status, label: data.label } : event.payload;
}

createRoot(document.getElementById('root')).render(<App />);
